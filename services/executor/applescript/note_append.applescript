-- argv: folder (of the default account), name (exact), HTML to add at the end (built by Python).
-- Notes can only add by rewriting the whole body, which would drop attachments and images, so a
-- note that holds any is left as it is ("has attachments": Python says what to do).
on run argv
	set {theFolder, theName, theHTML} to items 1 thru 3 of argv
	tell application "Notes"
		set n to first note of folder theFolder of default account whose name is theName
		if (count of attachments of n) > 0 then return "has attachments"
		set body of n to (body of n) & theHTML
	end tell
	return "ok"
end run
