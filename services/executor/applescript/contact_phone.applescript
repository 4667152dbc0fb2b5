-- argv: exact contact name. One line per phone of every person of that name:
-- person id, tab, label, tab, value; a person with no phone gives a line with the id alone.
-- Python chooses the number (a mobile first) and refuses to guess between two people.
on run argv
	set theName to item 1 of argv
	set out to {}
	tell application "Contacts"
		set matches to (every person whose name is theName)
		if matches is {} then error "no contact named " & theName
		repeat with p in matches
			set pid to id of p
			set thePhones to phones of p
			if thePhones is {} then set end of out to pid
			repeat with ph in thePhones
				set end of out to pid & tab & (label of ph as text) & tab & (value of ph)
			end repeat
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return out as text
end run
