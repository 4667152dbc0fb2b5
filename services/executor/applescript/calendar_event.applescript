-- argv: title, location, notes, calendar name,
--       start Y M D h m s, end Y M D h m s (numbers: no locale-dependent date parsing),
--       invitee count, invitee addresses...
-- Attendees are added only when Python passes them (when sending is allowed): on iCloud and
-- Exchange calendars, adding one may send the invitation at once.
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
	set {theTitle, theLocation, theNotes, theCalendar} to items 1 thru 4 of argv
	set startDate to makeDate(argv, 5)
	set endDate to makeDate(argv, 11)
	set n to (item 17 of argv) as integer
	tell application "Calendar"
		set cal to first calendar whose name is theCalendar
		set ev to make new event at end of events of cal with properties {summary:theTitle, start date:startDate, end date:endDate, location:theLocation, description:theNotes}
		repeat with i from 1 to n
			tell ev to make new attendee at end of attendees with properties {email:(item (17 + i) of argv)}
		end repeat
	end tell
	return "ok"
end run
