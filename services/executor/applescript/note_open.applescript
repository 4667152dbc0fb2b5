-- argv: folder (of the default account), name (exact). Shows the note and returns its text.
on run argv
	set {theFolder, theName} to items 1 thru 2 of argv
	tell application "Notes"
		set n to first note of folder theFolder of default account whose name is theName
		show n
		return plaintext of n
	end tell
end run
