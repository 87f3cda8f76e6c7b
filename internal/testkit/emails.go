package testkit

// HiddenCharacter is a character that makes an address display as another
// one, or as itself while being a different string, named by its class.
type HiddenCharacter struct {
	Class string
	R     rune
}

// HiddenCharacters are one character per class the email rule
// (users.NormalizeEmail) refuses; the rule's unit tests and the tests of
// every door that takes an email (the pages, the CLI) share them.
var HiddenCharacters = []HiddenCharacter{
	{"Cc: C1 control NEL", '\u0085'},
	{"Cc: DEL", '\u007f'},
	{"Cc: escape", '\u001b'},
	{"Cf: right-to-left override", '\u202e'},
	{"Cf: left-to-right embedding", '\u202a'},
	{"Cf: pop directional formatting", '\u202c'},
	{"Cf: right-to-left isolate", '\u2067'},
	{"Cf: pop directional isolate", '\u2069'},
	{"Cf: right-to-left mark", '\u200f'},
	{"Cf: arabic letter mark", '\u061c'},
	{"Cf: zero width space", '\u200b'},
	{"Cf: zero width joiner", '\u200d'},
	{"Cf: word joiner", '\u2060'},
	{"Cf: byte order mark", '\ufeff'},
	{"Cf: soft hyphen", '\u00ad'},
	{"Cf: tag character", '\U000E0041'},
	{"Zs: no-break space", '\u00a0'},
	{"Zs: ideographic space", '\u3000'},
	{"Zs: en quad", '\u2000'},
	{"Zl: line separator", '\u2028'},
	{"Zp: paragraph separator", '\u2029'},
	{"Co: private use", '\ue000'},
	{"Cn: unassigned", '\u0378'},
	{"default ignorable letter: hangul filler", '\u3164'},
	{"default ignorable letter: halfwidth hangul filler", '\uffa0'},
	{"default ignorable mark: combining grapheme joiner", '\u034f'},
	{"variation selector", '\ufe0f'},
	{"blank symbol: braille pattern blank", '\u2800'},
}

// HiddenCharacterEmail is an address holding one of [HiddenCharacters].
type HiddenCharacterEmail struct {
	Name  string // the class and where the character is
	Email string
	R     rune
}

// HiddenCharacterEmails are the addresses of [HiddenCharacters]: each
// character inside the local part and inside the domain.
func HiddenCharacterEmails() []HiddenCharacterEmail {
	var out []HiddenCharacterEmail
	for _, c := range HiddenCharacters {
		out = append(out,
			HiddenCharacterEmail{c.Class + " in the local part", "ann" + string(c.R) + "moc@example.com", c.R},
			HiddenCharacterEmail{c.Class + " in the domain", "ann@exa" + string(c.R) + "mple.com", c.R},
		)
	}
	return out
}
