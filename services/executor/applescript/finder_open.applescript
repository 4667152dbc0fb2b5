-- argv: a POSIX path. Opens the file in its app.
on run argv
	set thePath to item 1 of argv
	tell application "Finder" to open (POSIX file thePath as alias)
	return thePath
end run
