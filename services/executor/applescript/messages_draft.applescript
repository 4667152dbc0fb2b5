-- argv: an sms: URL built and encoded by Python, the message's text.
-- Opens Messages on a new message to the recipients. The URL's body is documented for iOS and
-- may be left out on macOS, so the text also goes on the clipboard, ready to paste.
on run argv
	set {theURL, theText} to items 1 thru 2 of argv
	set the clipboard to theText
	open location theURL
	return "ok"
end run
