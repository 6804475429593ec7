package main

import (
	"fmt"
	"regexp"
)

// The flag package spells every flag with one dash in its errors; the help
// spells a flag of one letter with one (-o) and any other with two (--from).
var flagErrPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^(flag provided but not defined: )-(\S+)$`),
	regexp.MustCompile(`^(flag needs an argument: )-(\S+)$`),
	regexp.MustCompile(`^(invalid (?:boolean )?value ".*" for (?:flag )?)-([^\s:]+)(: .*)$`),
}

// flagError rewrites an error of the flag package so that it spells the flag
// as --help does.
func flagError(err error) string {
	msg := err.Error()
	for _, re := range flagErrPatterns {
		if m := re.FindStringSubmatch(msg); m != nil {
			rest := ""
			if len(m) > 3 {
				rest = m[3]
			}
			return fmt.Sprintf("%s%s%s", m[1], flagName(m[2]), rest)
		}
	}
	return msg
}

// flagName spells a flag as the help does.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
