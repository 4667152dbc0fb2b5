-- argv: subject, body, send now ("1"/"0"), then three counted lists:
--       n, recipients..., n, cc..., n, attachment paths...
-- A draft is saved and brought to the front (not left behind the terminal); an email to send
-- waits until Mail has attached every file.
on takeList(argv, pos)
	set n to (item pos of argv) as integer
	if n is 0 then return {{}, pos + 1}
	return {items (pos + 1) thru (pos + n) of argv, pos + n + 1}
end takeList

on run argv
	set {theSubject, theBody, sendNow} to items 1 thru 3 of argv
	set {toList, pos} to takeList(argv, 4)
	set {ccList, pos} to takeList(argv, pos)
	set {attList, pos} to takeList(argv, pos)
	tell application "Mail"
		set msg to make new outgoing message with properties {subject:theSubject, content:theBody & return & return, visible:true}
		tell msg
			repeat with a in toList
				make new to recipient at end of to recipients with properties {address:(a as text)}
			end repeat
			repeat with a in ccList
				make new cc recipient at end of cc recipients with properties {address:(a as text)}
			end repeat
			repeat with p in attList
				make new attachment with properties {file name:(POSIX file (p as text) as alias)} at after the last paragraph
			end repeat
		end tell
		if sendNow is "1" then
			my waitForAttachments(msg, count of attList)
			send msg
		else
			save msg
			activate
		end if
	end tell
	return "ok"
end run

-- Sending before Mail has attached every file sends the email without them.
on waitForAttachments(msg, n)
	if n is 0 then return
	tell application "Mail"
		repeat 40 times
			try
				if (count of mail attachments of msg) is greater than or equal to n then exit repeat
			end try
			delay 0.25
		end repeat
	end tell
	delay 1
end waitForAttachments
