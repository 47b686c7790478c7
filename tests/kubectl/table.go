package kubectl

import (
	"regexp"
	"slices"
	"strings"
)

// kubectl prints lists as tables: a header of upper-case column names and
// rows aligned under it. Their widths follow the widest cell, so a cell
// that changes from run to run ("9s" then "10s", a cluster IP) moves every
// column after it. normalizeTables therefore reads each table by the
// header's column positions, rewrites each cell, replaces the cells of the
// duration columns (durationColumns) that hold a duration with <age>, and
// aligns the table again the way kubectl does: each column as wide as its
// widest cell, three spaces between columns.

// headerWord is one column name: upper-case words, single spaces between.
const headerWord = `[A-Z][A-Z0-9()/-]*(?: [A-Z][A-Z0-9()/-]*)*`

// tableHeader matches a header line of two or more columns.
var tableHeader = regexp.MustCompile(`^` + headerWord + `(?:\s{2,}` + headerWord + `)+$`)

// headerColumn finds the columns of a header line.
var headerColumn = regexp.MustCompile(headerWord)

// duration matches what kubectl prints for an age (5s, 2m30s, 3d4h).
var duration = regexp.MustCompile(`^(?:\d+[smhdy])+$|^<invalid>$`)

// durationColumns are the columns whose cells are ages.
var durationColumns = []string{"AGE", "LAST SEEN", "FIRST SEEN", "DURATION", "LAST SCHEDULE"}

// agePlaceholder replaces a duration cell.
const agePlaceholder = "<age>"

// columnGap is the space kubectl leaves between columns.
const columnGap = 3

// normalizeTables rewrites every table found in lines, applying rewrite to
// each cell, and applies rewrite to every other line.
func normalizeTables(lines []string, rewrite func(string) string) []string {
	var out []string
	for i := 0; i < len(lines); {
		if !tableHeader.MatchString(lines[i]) {
			out = append(out, rewrite(lines[i]))
			i++
			continue
		}
		header := lines[i]
		starts := columnStarts(header)
		rows := [][]string{splitRow(header, starts)}
		i++
		for i < len(lines) && lines[i] != "" && !tableHeader.MatchString(lines[i]) && fitsColumns(lines[i], starts) {
			rows = append(rows, splitRow(lines[i], starts))
			i++
		}
		for _, row := range rows[1:] {
			for c := range row {
				row[c] = rewrite(row[c])
			}
		}
		out = append(out, alignRows(hideDurations(rows))...)
	}
	return out
}

// columnStarts is the byte offset each header column starts at.
func columnStarts(header string) []int {
	var starts []int
	for _, loc := range headerColumn.FindAllStringIndex(header, -1) {
		starts = append(starts, loc[0])
	}
	return starts
}

// fitsColumns reports whether a line reads as a row of the table: every
// column boundary it reaches falls just after a space, so no word spans two
// columns (an error message after a table does not fit).
func fitsColumns(line string, starts []int) bool {
	for _, s := range starts[1:] {
		if s >= len(line) {
			return true
		}
		if line[s-1] != ' ' {
			return false
		}
	}
	return true
}

// splitRow cuts a row at the column starts; the last column takes the rest.
func splitRow(line string, starts []int) []string {
	cells := make([]string, len(starts))
	for c, s := range starts {
		if s >= len(line) {
			break
		}
		end := len(line)
		if c+1 < len(starts) && starts[c+1] < end {
			end = starts[c+1]
		}
		cells[c] = strings.TrimSpace(line[s:end])
	}
	return cells
}

// hideDurations replaces the durations in the duration columns; rows[0] is
// the header.
func hideDurations(rows [][]string) [][]string {
	for c, name := range rows[0] {
		if !slices.Contains(durationColumns, name) {
			continue
		}
		for _, row := range rows[1:] {
			if duration.MatchString(row[c]) {
				row[c] = agePlaceholder
			}
		}
	}
	return rows
}

// alignRows prints rows with each column as wide as its widest cell.
func alignRows(rows [][]string) []string {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for c, cell := range row {
			widths[c] = max(widths[c], len(cell))
		}
	}
	out := make([]string, 0, len(rows))
	for _, row := range rows {
		var b strings.Builder
		for c, cell := range row {
			b.WriteString(cell)
			if c+1 < len(row) {
				b.WriteString(strings.Repeat(" ", widths[c]-len(cell)+columnGap))
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}
