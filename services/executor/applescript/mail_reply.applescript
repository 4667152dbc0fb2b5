-- argv: body, send now ("1"/"0"), n, cc..., n, attachment paths...
-- Replies to the message selected in Mail's front viewer. Mail is known to drop text set on a
-- reply whose window is still opening, so the text is read back: if it is not there, nothing is
-- sent, the text goes on the clipboard, and the reply stays open for the user.
-- Prints: the recipient's address, a tab, then "ok" or "text-lost".
on takeList(argv, pos)
	set n to (item pos of argv) as integer
	if n is 0 then return {{}, pos + 1}
	return {items (pos + 1) thru (pos + n) of argv, pos + n + 1}
end takeList

on run argv
	set {theBody, sendNow} to items 1 thru 2 of argv
	set {ccList, pos} to takeList(argv, 3)
	set {attList, pos} to takeList(argv, pos)
	tell application "Mail"
		set sel to selection
		if sel is {} then error "no email is selected in Mail: select the one to answer, then ask again"
		set msg to reply (item 1 of sel) opening window true
		delay 0.5
		tell msg
			set content to theBody & return & return & content
			repeat with a in ccList
				make new cc recipient at end of cc recipients with properties {address:(a as text)}
			end repeat
			repeat with p in attList
				make new attachment with properties {file name:(POSIX file (p as text) as alias)} at after the last paragraph
			end repeat
		end tell
		set theTo to address of first to recipient of msg
		set state to "ok"
		if theBody is not "" and (content of msg) does not contain (paragraph 1 of theBody) then set state to "text-lost"
		if state is "text-lost" then
			set the clipboard to theBody
			activate
		else if sendNow is "1" then
			my waitForAttachments(msg, count of attList)
			send msg
		else
			activate
		end if
	end tell
	return theTo & tab & state
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
