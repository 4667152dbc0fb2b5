-- argv: folder (of the default account; made if missing), name, body as HTML built by Python
-- (text escaped, lines as <div>s: Notes reads a body as HTML).
on run argv
	set {theFolder, theName, theBody} to items 1 thru 3 of argv
	tell application "Notes"
		set acct to default account
		if not (exists folder theFolder of acct) then make new folder at acct with properties {name:theFolder}
		make new note at folder theFolder of acct with properties {name:theName, body:theBody}
	end tell
	return "ok"
end run
