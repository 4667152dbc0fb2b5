-- argv: a POSIX path, then "open" or "reveal". Opens the file in its app, or, for a file that
-- would run as a program when opened (.command, .app, scripts), only shows it in Finder.
on run argv
	set {thePath, how} to items 1 thru 2 of argv
	tell application "Finder"
		if how is "reveal" then
			reveal (POSIX file thePath as alias)
			activate
		else
			open (POSIX file thePath as alias)
		end if
	end tell
	return thePath
end run
