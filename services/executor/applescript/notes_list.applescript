-- The default account's notes as "folder<TAB>name", one per line, the default folder's first (its
-- name is localized: "Notes", "Notizen"...); a folder without notes as "folder<TAB>". One Apple
-- event per folder, not per note, so large libraries list in time. Python leaves out Recently
-- Deleted and picks the note the user meant. Only the default account: "Notes" may name a folder
-- in iCloud and another On My Mac.
on run argv
	set out to {}
	tell application "Notes"
		set acct to default account
		set firstFolder to default folder of acct
		set theFolders to {firstFolder}
		repeat with f in folders of acct
			if id of f is not (id of firstFolder) then set end of theFolders to contents of f
		end repeat
		repeat with f in theFolders
			set folderName to name of f
			set theNames to name of every note of f
			if theNames is {} then
				set end of out to folderName & tab
			else
				repeat with noteName in theNames
					set end of out to folderName & tab & noteName
				end repeat
			end if
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return out as text
end run
