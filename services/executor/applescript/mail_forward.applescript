-- argv: note, send now ("1"/"0"), n, recipients..., n, cc..., n, attachment paths...
-- Forwards the message selected in Mail's front viewer.
on takeList(argv, pos)
	set n to (item pos of argv) as integer
	if n is 0 then return {{}, pos + 1}
	return {items (pos + 1) thru (pos + n) of argv, pos + n + 1}
end takeList

on run argv
	set {theNote, sendNow} to items 1 thru 2 of argv
	set {toList, pos} to takeList(argv, 3)
	set {ccList, pos} to takeList(argv, pos)
	set {attList, pos} to takeList(argv, pos)
	tell application "Mail"
		set sel to selection
		if sel is {} then error "no email is selected in Mail"
		set msg to forward (item 1 of sel) opening window true
		tell msg
			if theNote is not "" then set content to theNote & return & return & content
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
		if sendNow is "1" then send msg
	end tell
	return "ok"
end run
