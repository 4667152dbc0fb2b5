-- argv: an application's name (pippin doctor passes fixed names, never user text).
-- One harmless Apple event, so that macOS asks now whether Pippin may control the app.
on run argv
	tell application (item 1 of argv) to get name
	return "ok"
end run
