-- argv: name, notes, list name, priority (0/1/5/9), all day ("1"/"0"), has due date ("1"/"0"),
--       due Y M D h m s (numbers: no locale-dependent date parsing).
-- A timed reminder sets its alert time (remind me date) too: a due date alone raises no alert.
on run argv
	set {theName, theNotes, theList, thePriority, allDay, hasDue} to items 1 thru 6 of argv
	tell application "Reminders"
		set props to {name:theName, body:theNotes, priority:(thePriority as integer)}
		set r to make new reminder at end of reminders of list theList with properties props
		if hasDue is "1" then
			set d to current date
			set day of d to 1
			set year of d to (item 7 of argv) as integer
			set month of d to (item 8 of argv) as integer
			set day of d to (item 9 of argv) as integer
			set hours of d to (item 10 of argv) as integer
			set minutes of d to (item 11 of argv) as integer
			set seconds of d to (item 12 of argv) as integer
			if allDay is "1" then
				set allday due date of r to d
			else
				set due date of r to d
				set remind me date of r to d
			end if
		end if
	end tell
	return "ok"
end run
