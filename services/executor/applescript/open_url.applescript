-- argv: a URL built and encoded by Python (maps.apple.com, sms:). Opens it.
on run argv
	open location (item 1 of argv)
	return item 1 of argv
end run
