package template_test

// Each line of these is a template for TestEdgesSameAsGo; those in
// edgeOther run on edgeData, the others on the fixture.

const edgeCases = `{{$x := 0}}{{if false}}{{$x := 1}}{{else}}{{$x}}{{end}}
{{if false}}{{$y := 1}}{{else}}{{$y}}{{end}}
{{if true}}{{$y := 1}}{{$y}}{{else}}{{$y}}{{end}}
{{and false ($x := 2)}}{{$x}}
{{$x := 5}}{{and false ($x := 2)}}{{$x}}
{{$x := 5}}{{and true ($x := 2)}}{{$x}}
{{$x := 5}}{{or true ($x := 2)}}{{$x = 7}}{{$x}}
{{$x := $x}}
{{$x := 1}}{{$x := $x}}{{$x}}
{{range $x := (slice .Tags 0 0)}}{{else}}{{$x}}{{end}}
{{$x := 0}}{{range $x = .Tags}}{{end}}{{$x}}
{{$x := 0}}{{range $x = (slice .Tags 0 0)}}{{end}}{{$x}}
{{$i := 9}}{{range $i = .Tags}}{{end}}{{$i}}
{{$i := 0}}{{$e := 0}}{{range $i, $e = .Tags}}{{end}}{{$i}}{{$e}}
{{range $i, $e := 3}}{{end}}
{{range $e := 3}}{{$e}}{{end}}{{range -2}}x{{else}}neg{{end}}
{{range $i, $e := .Tags}}{{$i}}{{$e}}{{$x := 1}}{{end}}
{{range .Title}}{{.}}{{end}}
{{range .Since}}{{.}}{{end}}
{{range .Level}}{{.}}{{end}}
{{range .Big}}{{.}}{{end}}
{{range .Labels}}{{.}}{{else}}none{{end}}
{{eq .Ptr .Since}}
{{eq .Match .Labels}}
{{eq .Nil .Labels}}
{{eq .Match nil}}
{{eq .Since .Since}}
{{eq .Tags .Tags}}
{{eq .Nil .Nil}}
{{eq .Nil .Ptr}}
{{eq .Labels nil}}
{{eq nil nil}}
{{eq .Any .Any}}
{{eq 1 1.0}}
{{eq 1 'a'}}
{{eq .Level 1}}
{{lt .Level 2}}
{{eq .For 90000000000}}
{{ne nil nil}}
{{lt nil 1}}
{{le 1 1}} {{gt 2 1}} {{ge 1 2}} {{le 2 1}} {{ge 2 2}} {{gt 1 1}}
{{lt true false}}
{{lt 1i 2i}}
{{eq 1i 1i}}
{{eq 1 1 "x"}}
{{eq 1 "x" 1}}
{{eq .Since .Ptr}}
{{eq .Ptr nil}}
{{eq .Ptr.Tags nil}}
{{eq .Labels .Labels}}
{{eq .Ptr .Nil}}
{{eq .Title .Nil}}
{{eq .Since nil}}
{{eq .Ratio 0.25}} {{lt .Ratio 1}}
{{le .Big -1}} {{ge .Big -1}} {{eq .Big -1}} {{ne .Big 5}}
{{1i}} {{0x1p3}} {{-0x1e}}
{{eq -0x1e -30}}
{{18446744073709551615}}
{{1_000}} {{0b101}} {{0o17}} {{'\n'}} {{1e30}}
{{printf "%T %T %T %T %T" 1e3 'a' 0x10 1.0 1i}}
{{.Since.Add 60}}
{{.Since.Add 1e3}}
{{.Since.Add .Count}}
{{.Since.Add .For}}
{{.Since.Add 1.5}}
{{.Since.Format .Title}}
{{"15:04" | .Since.Format}}
{{.Since.Sub .Since}}
{{.Since.Equal .Since}}
{{.Since.Equal .Ptr}}
{{.For.Round 1000000000}}
{{.For.Truncate .For}}
{{.Since.Format 1}}
{{.Since.Year 1}}
{{.Level.String 1}}
{{.Since.Add nil}}
{{.Since.Add}}
{{.Since.Add 1 2}}
{{60 | .Since.Add}}
{{.For | .Since.Add}}
{{.Since | .Since.Sub}}
{{printf 1}}
{{printf .Level}}
{{printf .Any}}
{{printf nil}}
{{"%d" | printf}}
{{.Match | printf}}
{{printf "%d" | printf}}
{{printf "%v %v" nil .Labels.none}}
{{print nil}} {{print .Labels.none}}
{{.Labels.none | print}}
{{print .Nil}} {{println}} {{html}} {{js nil}} {{urlquery .Labels.none}}
{{and}}
{{or}}
{{1 | and}} {{0 | and 1}} {{and nil 1}} {{or nil}}
{{or .Labels.none "x"}}
{{.Labels.none | and 1}}
{{and .Any 1}} {{or 0 "" .Nil}}
{{not}}
{{not nil}} {{not .Any}} {{not .Since}}
{{len nil}}
{{len .Nil}}
{{len .Ptr.Tags}}
{{len .Since}}
{{len 3}}
{{index .Nil}}
{{index nil}}
{{index .Match}}
{{index .Match -1}}
{{index .Match 2}}
{{index .Title 0}}
{{index .Labels 1}}
{{index .Nums 'a'}}
{{index .Nums nil}}
{{index .Any 2}}
{{index .Any 1 0}}
{{index .Match 0 0}}
{{index .Ptr.Tags 0}}
{{index .Nil 0}}
{{index .Labels nil}}
{{index .Match 1.0}}
{{index .Match true}}
{{slice .Tags}}
{{slice .Title 1 2 3}}
{{slice .Tags 1 2 3 4}}
{{slice .Tags 0 3}}
{{slice .Tags 0 4}}
{{slice nil}}
{{slice .Count}}
{{slice .Tags -1}}
{{slice .Tags 2 1 3}}
{{slice .Tags 0 2 1}}
{{slice .Title 4 2}}
{{slice .Title 2 4}}
{{call .Title}}
{{call nil}}
{{call}}
{{.Labels.app.x}}
{{.Nums.x}}
{{.Since.wall}}
{{.Ptr.Missing}}
{{.Nil.Missing}}
{{.Any.x}}
{{.Title.x}}
{{.Level.x}}
{{$.Nil.Name}}
{{(.Ptr).Name}}
{{(index .Any 1).x}}
{{(.Labels).zone}}
{{(.Labels).nothere}}
{{.Labels.zone 1}}
{{1 | .Labels.zone}}
{{.Flag | .Title}}
{{.Ptr.Name | .Title}}
{{. 1}}
{{"a" 1}}
{{(1) 2}}
{{$ 1}}
{{$.Title 1}}
{{1 | $}}
{{.Title | $.Name}}
{{if .Any}}y{{end}}
{{with .Labels.none}}x{{else}}e{{end}}
{{with $x := .Count}}{{$x}}{{else}}{{$x}}{{end}}
{{with $x := 0}}{{$x}}{{else}}{{$x}}{{end}}
{{if 0.0}}{{else if -0.0}}a{{else}}b{{end}}
{{with .Since}}{{.Year}}{{end}}
{{with .Nil}}{{else with .Ptr}}{{.Name}}{{end}}
{{.Since.Month}} {{.Ptr}} {{.Level}} {{.For}}
{{.}}
{{$}}
{{print .Ptr}} {{.Ptr.Count}}
{{define "a"}}{{.}}{{end}}{{template "a"}}
{{define "a"}}{{$}}{{end}}{{template "a" .Name}}
{{define "a"}}{{$x := 1}}{{$x}}{{end}}{{$x := 2}}{{template "a"}}{{$x}}
{{template "a" $y := 3}}{{$y}}{{define "a"}}{{.}}{{end}}
{{define "t"}}replaced{{end}}
{{define "x"}}{{end}}
{{.Missing.x}}
{{.Labels.none.x}}
{{$x := .Labels.none}}{{$x}}{{$x.y}}
{{index .Labels "none"}}
{{with .Labels.none}}{{else}}{{.Labels.none}}{{end}}
{{.Nums}} {{index .Nums -1}}
{{range $k, $v := .Labels}}{{if eq $k "app"}}{{continue}}{{end}}{{$k}}{{if eq $k "env"}}{{break}}{{end}}{{end}}
{{range .Tags}}{{range $.Match}}{{if eq . "42"}}{{break}}{{end}}{{.}}{{end}}{{.}}{{end}}
{{print (.Since.Add 60).Year}}
{{(.Since.Add 60).Year}}
{{.Since.UTC.Format "2006"}}
{{.Since.Local.IsZero}}
{{.For.Minutes | printf "%.1f"}}
{{printf "%s" .Level}} {{printf "%d" .Level}} {{printf "%v" .Since.Weekday}}
{{html .Level}} {{js .Ptr}} {{urlquery .Nil}} {{html "<a>" "&"}}
{{len .Labels | print}} {{len .Match | eq 2}}
{{.Count | eq 3 4}}
{{eq .Count 3 | not}}
{{"x" | printf "%s-%s" "y"}}
{{index .Labels "zone" | len}}
{{(.Title)}} {{(.)}} {{($)}}
{{(1).x}}
{{and.x}}
{{.Ptr.Tags | len}}
{{.Any}} {{index .Any 2 | printf "%.2f"}}
{{if and .Flag (index .Match 5)}}x{{end}}
{{if or .Count (index .Match 5)}}x{{end}}
{{print (and 0 (index .Match 5))}}
`

const edgeOther = `{{range .Ch}}{{.}}{{end}}
{{range $i, $e := .Ch}}{{$i}}{{$e}}{{end}}
{{range .Send}}{{.}}{{end}}
{{range .Seq}}{{.}}{{end}}
{{range $e := .Seq}}{{$e}}{{end}}
{{range $i, $e := .Seq}}{{$i}}{{$e}}{{end}}
{{range .Seq2}}{{.}}{{end}}
{{range $k := .Seq2}}{{$k}}{{end}}
{{range $k, $v := .Seq2}}{{$k}}{{$v}}{{end}}
{{range .Seq}}{{if eq . 20}}{{break}}{{end}}{{.}}{{end}}
{{range .Fn}}{{.}}{{end}}
{{call .Fn 3}} {{call .Fn .U8}}
{{call .Fn "x"}}
{{call .Fn}}
{{call .FnErr}}
{{call .Var "a"}} {{call .Var "a" 1 2}} {{call .Var}}
{{.Fn}}
{{.Fn 1}}
{{print .Fn}}
{{.Ch}}
{{range .Arr}}{{.}}{{end}} {{slice .Arr 1}} {{index .Arr 2}} {{len .Arr}}
{{.Err}} {{.Err.Error}} {{.PS}} {{.V}} {{.PS.String}} {{.V.String}}
{{print .V}} {{printf "%v" .V}}
{{range $k, $v := .MapAny}}{{$k}}={{$v}} {{end}}
{{range $k, $v := .MapBool}}{{$k}}={{$v}} {{end}}
{{range $k, $v := .MapFloat}}{{$k}}={{$v}} {{end}}
{{.Iface}} {{if .Iface}}y{{else}}n{{end}}
{{.Iface.String}}
{{.PP}} {{.PP.Name}}
{{range .Lvl}}{{.}}{{end}}
{{range $i := .Lvl}}{{$i}}{{end}}
{{range .Empty}}x{{else}}empty{{end}}
{{eq .U8 200}} {{lt .I8 .U8}} {{eq .I8 -3}} {{index .Arr .U8}}
{{.MapAny.a}}
{{index .MapAny "a"}} {{index .MapAny 3}} {{index .MapAny .Empty}}
{{eq .Arr .Arr}}
{{eq .V .V}}
{{eq .Err .Err}}
{{eq .Fn .Fn}}
{{eq .Fn nil}}
{{eq .Ch .Ch}}
{{len .Ch}} {{len .Send}}
{{slice .Arr 0 1 2}}
`
const edgeMethods = `{{.For.Abs}} {{.For.Nanoseconds}} {{.For.Microseconds}} {{.Since.Nanosecond}} {{.Since.UnixNano}} {{.Since.UnixMicro}} {{.Since.IsDST}} {{.Since.Location}} {{.Since.GoString}}
{{.Since.Compare .Since}} {{.Since.AddDate 1 2 3}} {{.Since.In .Since.Location}} {{.Since.MarshalJSON}} {{.Since.MarshalText}} {{printf "%s" .Since.MarshalText}}
{{.Since.AddDate 1 2}}
{{.Since.AddDate 1 2 1.5}}
{{.Since.In nil}}
{{.Since.Zone}}
{{.Since.ISOWeek}}
{{.Since.Clock}}
{{.Since.UnmarshalJSON}}
{{.Since.Location.String}}
{{.Since.Month.String}}
`
