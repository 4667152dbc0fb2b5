-- argv: folder, name, body. Makes the folder if it does not exist.
on run argv
	set {theFolder, theName, theBody} to items 1 thru 3 of argv
	tell application "Notes"
		if not (exists folder theFolder) then make new folder with properties {name:theFolder}
		make new note at folder theFolder with properties {name:theName, body:theBody}
	end tell
	return "ok"
end run
