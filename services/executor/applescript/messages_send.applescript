-- argv: message, n, recipients (phone numbers or iMessage addresses)...
-- Sends now; drafts go through open_url.applescript with an sms: URL instead.
on run argv
	set theMessage to item 1 of argv
	set n to (item 2 of argv) as integer
	tell application "Messages"
		set svc to first account whose service type = iMessage
		repeat with i from 1 to n
			send theMessage to participant (item (2 + i) of argv) of svc
		end repeat
	end tell
	return "ok"
end run
