-- argv: message, n, recipients (phone numbers in E.164 or iMessage addresses)...
-- Sends now; drafts go through messages_draft.applescript instead.
-- A phone number goes by SMS when this Mac can send SMS (Text Message Forwarding from an iPhone):
-- over iMessage, a number without iMessage ends "Not Delivered" long after this script returns.
-- Prints one line per recipient: the recipient, a tab, the service used ("SMS" or "iMessage").
on run argv
	set theMessage to item 1 of argv
	set n to (item 2 of argv) as integer
	set out to {}
	tell application "Messages"
		set imsg to first account whose service type = iMessage
		set smsAccounts to (accounts whose service type = SMS)
		repeat with i from 1 to n
			set who to item (2 + i) of argv
			if smsAccounts is not {} and who does not contain "@" then
				send theMessage to participant who of (item 1 of smsAccounts)
				set end of out to who & tab & "SMS"
			else
				send theMessage to participant who of imsg
				set end of out to who & tab & "iMessage"
			end if
		end repeat
	end tell
	set AppleScript's text item delimiters to linefeed
	return out as text
end run
