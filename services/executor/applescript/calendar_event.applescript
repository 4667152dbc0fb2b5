-- argv: title, location, notes, calendar name, send invitations ("1"/"0"),
--       start Y M D h m s, end Y M D h m s (numbers: no locale-dependent date parsing),
--       invitee count, invitee addresses...
on makeDate(argv, pos)
	set d to current date
	set day of d to 1
	set year of d to (item pos of argv) as integer
	set month of d to (item (pos + 1) of argv) as integer
	set day of d to (item (pos + 2) of argv) as integer
	set hours of d to (item (pos + 3) of argv) as integer
	set minutes of d to (item (pos + 4) of argv) as integer
	set seconds of d to (item (pos + 5) of argv) as integer
	return d
end makeDate

on run argv
	set {theTitle, theLocation, theNotes, theCalendar, sendInvites} to items 1 thru 5 of argv
	set startDate to makeDate(argv, 6)
	set endDate to makeDate(argv, 12)
	set n to (item 18 of argv) as integer
	tell application "Calendar"
		set cal to first calendar whose name is theCalendar
		set ev to make new event at end of events of cal with properties {summary:theTitle, start date:startDate, end date:endDate, location:theLocation, description:theNotes}
		repeat with i from 1 to n
			tell ev to make new attendee at end of attendees with properties {email:(item (18 + i) of argv)}
		end repeat
		if sendInvites is "1" then
			show ev
		end if
	end tell
	return "ok"
end run
