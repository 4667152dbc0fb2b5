-- argv: folder, name (exact), text to add at the end.
on run argv
	set {theFolder, theName, theText} to items 1 thru 3 of argv
	tell application "Notes"
		set n to first note of folder theFolder whose name is theName
		set body of n to (body of n) & "<div>" & my escapeHTML(theText) & "</div>"
	end tell
	return "ok"
end run

-- Notes bodies are HTML: the added text must stay text.
on escapeHTML(t)
	set out to t
	repeat with pair in {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}}
		set AppleScript's text item delimiters to item 1 of pair
		set parts to text items of out
		set AppleScript's text item delimiters to item 2 of pair
		set out to parts as text
	end repeat
	set AppleScript's text item delimiters to ""
	return out
end escapeHTML
