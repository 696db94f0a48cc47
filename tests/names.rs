//! File names from `Content-Disposition`: Julian Reschke's tc2231 cases
//! (<https://greenbytes.de/tech/tc2231/>) as a table with the name dlm must choose for each,
//! and end-to-end runs through the loopback server and the engine, raw header bytes included.
//! Where dlm's answer differs from tc2231's expectation, the table says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dlm::engine::naming::choose_name;
use support::harness::{Harness, completed_path};
use support::{TestServer, assert_file, content};

/// The URL every table case is "downloaded" from: its name is what an ignored header gives.
const URL: &str = "http://example.com/dir/from-url.bin";
const FROM_URL: &str = "from-url.bin";

/// (tc2231 case, header bytes as sent, the name dlm chooses).
const TC2231: &[(&str, &[u8], &str)] = &[
    // Disposition type inline: a download manager saves anyway, under the name given.
    ("inlonly", b"inline", FROM_URL),
    ("inlonlyquoted", b"\"inline\"", FROM_URL),
    ("inlwithasciifilename", b"inline; filename=\"foo.html\"", "foo.html"),
    ("inlwithfnattach", b"inline; filename=\"Not an attachment!\"", "Not an attachment!"),
    ("inlwithasciifilenamepdf", b"inline; filename=\"foo.pdf\"", "foo.pdf"),
    // Disposition type attachment.
    ("attonly", b"attachment", FROM_URL),
    ("attonlyquoted", b"\"attachment\"", FROM_URL),
    ("attonlyucase", b"ATTACHMENT", FROM_URL),
    ("attwithasciifilename", b"attachment; filename=\"foo.html\"", "foo.html"),
    (
        "attwithasciifilename25",
        b"attachment; filename=\"0000000000111111111122222\"",
        "0000000000111111111122222",
    ),
    ("attwithasciifnescapedchar", br#"attachment; filename="f\oo.html""#, "foo.html"),
    (
        "attwithasciifnescapedquote",
        br#"attachment; filename="\"quoting\" tested.html""#,
        "\"quoting\" tested.html",
    ),
    (
        "attwithquotedsemicolon",
        b"attachment; filename=\"Here's a semicolon;.html\"",
        "Here's a semicolon;.html",
    ),
    ("attwithfilenameandextparam", b"attachment; foo=\"bar\"; filename=\"foo.html\"", "foo.html"),
    ("attwithfilenameandextparamescaped", br#"attachment; foo="\"\\";filename="foo.html""#, "foo.html"),
    ("attwithasciifilenameucase", b"attachment; FILENAME=\"foo.html\"", "foo.html"),
    ("attwithasciifilenamenq", b"attachment; filename=foo.html", "foo.html"),
    ("attwithtokfncommanq", b"attachment; filename=foo,bar.html", FROM_URL),
    // tc2231 would ignore these three; the intended name is plain, so dlm takes it.
    ("attwithasciifilenamenqs", b"attachment; filename=foo.html ;", "foo.html"),
    ("attemptyparam", b"attachment; ;filename=foo", "foo"),
    ("attwithasciifilenamenqws", b"attachment; filename=foo bar.html", "foo bar.html"),
    ("attwithfntokensq", b"attachment; filename='foo.bar'", "'foo.bar'"),
    ("attwithisofnplain", b"attachment; filename=\"foo-\xe4.html\"", "foo-ä.html"),
    // tc2231 expects "foo-Ã¤.html" (the bytes read as ISO-8859-1). Valid UTF-8 is read as UTF-8,
    // as today's browsers do: servers that send raw non-ASCII names mostly send UTF-8.
    ("attwithutf8fnplain", b"attachment; filename=\"foo-\xc3\xa4.html\"", "foo-ä.html"),
    ("attwithfnrawpctenca", b"attachment; filename=\"foo-%41.html\"", "foo-%41.html"),
    ("attwithfnusingpct", b"attachment; filename=\"50%.html\"", "50%.html"),
    ("attwithfnrawpctencaq", br#"attachment; filename="foo-%\41.html""#, "foo-%41.html"),
    ("attwithnamepct", b"attachment; name=\"foo-%41.html\"", FROM_URL),
    ("attwithfilenamepctandiso", b"attachment; filename=\"\xe4-%41.html\"", "ä-%41.html"),
    (
        "attwithfnrawpctenclong",
        b"attachment; filename=\"foo-%c3%a4-%e2%82%ac.html\"",
        "foo-%c3%a4-%e2%82%ac.html",
    ),
    ("attwithasciifilenamews1", b"attachment; filename =\"foo.html\"", "foo.html"),
    ("attwith2filenames", b"attachment; filename=\"foo.html\"; filename=\"bar.html\"", FROM_URL),
    // Unquoted names with characters a token may not hold: tc2231 would ignore them, but the
    // name is evident, so dlm takes it.
    ("attfnbrokentoken", b"attachment; filename=foo[1](2).html", "foo[1](2).html"),
    ("attfnbrokentokeniso", b"attachment; filename=foo-\xe4.html", "foo-ä.html"),
    ("attfnbrokentokenutf", b"attachment; filename=foo-\xc3\xa4.html", "foo-ä.html"),
    ("attmissingdisposition", b"filename=foo.html", FROM_URL),
    ("attmissingdisposition2", b"x=y; filename=foo.html", FROM_URL),
    ("attmissingdisposition3", b"\"foo; filename=bar;baz\"; filename=qux", FROM_URL),
    ("attmissingdisposition4", b"filename=foo.html, filename=bar.html", FROM_URL),
    ("emptydisposition", b"; filename=foo.html", FROM_URL),
    ("doublecolon", b": inline; attachment; filename=foo.html", FROM_URL),
    ("attandinline", b"inline; attachment; filename=foo.html", FROM_URL),
    ("attandinline2", b"attachment; inline; filename=foo.html", FROM_URL),
    ("attbrokenquotedfn", b"attachment; filename=\"foo.html\".txt", FROM_URL),
    ("attbrokenquotedfn2", b"attachment; filename=\"bar", FROM_URL),
    ("attbrokenquotedfn3", b"attachment; filename=foo\"bar;baz\"qux", FROM_URL),
    ("attmultinstances", b"attachment; filename=foo.html, attachment; filename=bar.html", FROM_URL),
    ("attmissingdelim", b"attachment; foo=foo filename=bar", FROM_URL),
    ("attmissingdelim2", b"attachment; filename=bar foo=foo", FROM_URL),
    ("attmissingdelim3", b"attachment filename=bar", FROM_URL),
    ("attreversed", b"filename=foo.html; attachment", FROM_URL),
    ("attconfusedparam", b"attachment; xfilename=foo.html", FROM_URL),
    // Paths are cut to their last component by the sanitiser.
    ("attabspath", b"attachment; filename=\"/foo.html\"", "foo.html"),
    ("attabspathwin", br#"attachment; filename="\\foo.html""#, "foo.html"),
    ("attcdate", b"attachment; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"", FROM_URL),
    ("dispext", b"foobar", FROM_URL),
    ("dispextbadfn", b"attachment; example=\"filename=example.txt\"", FROM_URL),
    // RFC 2231/5987/8187 encoding.
    ("attwithisofn2231iso", b"attachment; filename*=iso-8859-1''foo-%E4.html", "foo-ä.html"),
    ("attwithfn2231utf8", b"attachment; filename*=UTF-8''foo-%c3%a4-%e2%82%ac.html", "foo-ä-€.html"),
    ("attwithfn2231noc", b"attachment; filename*=''foo-%c3%a4-%e2%82%ac.html", FROM_URL),
    ("attwithfn2231utf8comp", b"attachment; filename*=UTF-8''foo-a%cc%88.html", "foo-a\u{308}.html"),
    ("attwithfn2231utf8-bad", b"attachment; filename*=iso-8859-1''foo-%c3%a4-%e2%82%ac.html", FROM_URL),
    ("attwithfn2231iso-bad", b"attachment; filename*=utf-8''foo-%E4.html", FROM_URL),
    ("attwithfn2231ws1", b"attachment; filename *=UTF-8''foo-%c3%a4.html", FROM_URL),
    ("attwithfn2231ws2", b"attachment; filename*= UTF-8''foo-%c3%a4.html", "foo-ä.html"),
    ("attwithfn2231ws3", b"attachment; filename* =UTF-8''foo-%c3%a4.html", "foo-ä.html"),
    ("attwithfn2231quot", b"attachment; filename*=\"UTF-8''foo-%c3%a4.html\"", FROM_URL),
    ("attwithfn2231quot2", b"attachment; filename*=\"foo%20bar.html\"", FROM_URL),
    ("attwithfn2231singleqmissing", b"attachment; filename*=UTF-8'foo-%c3%a4.html", FROM_URL),
    ("attwithfn2231nbadpct1", b"attachment; filename*=UTF-8''foo%", FROM_URL),
    ("attwithfn2231nbadpct2", b"attachment; filename*=UTF-8''f%oo.html", FROM_URL),
    ("attwithfn2231dpct", b"attachment; filename*=UTF-8''A-%2541.html", "A-%41.html"),
    ("attwithfn2231abspathdisguised", b"attachment; filename*=UTF-8''%5cfoo.html", "foo.html"),
    // RFC 2231 continuations (optional in tc2231; dlm joins them).
    ("attfncont", b"attachment; filename*0=\"foo.\"; filename*1=\"html\"", "foo.html"),
    ("attfncontqs", br#"attachment; filename*0="foo"; filename*1="\b\a\r.html""#, "foobar.html"),
    ("attfncontenc", b"attachment; filename*0*=UTF-8''foo-%c3%a4; filename*1=\".html\"", "foo-ä.html"),
    ("attfncontlz", b"attachment; filename*0=\"foo\"; filename*01=\"bar\"", "foo"),
    ("attfncontnc", b"attachment; filename*0=\"foo\"; filename*2=\"bar\"", "foo"),
    ("attfnconts1", b"attachment; filename*1=\"foo.\"; filename*2=\"html\"", FROM_URL),
    ("attfncontord", b"attachment; filename*1=\"bar\"; filename*0=\"foo\"", "foobar"),
    // Both forms: `filename*` wins.
    ("attfnboth", b"attachment; filename=\"foo-ae.html\"; filename*=UTF-8''foo-%c3%a4.html", "foo-ä.html"),
    ("attfnboth2", b"attachment; filename*=UTF-8''foo-%c3%a4.html; filename=\"foo-ae.html\"", "foo-ä.html"),
    (
        "attfnboth3",
        b"attachment; filename*0*=ISO-8859-15''euro-sign%3d%a4; filename*=ISO-8859-1''currency-sign%3d%a4",
        "currency-sign=\u{a4}",
    ),
    ("attnewandfn", b"attachment; foobar=x; filename=\"foo.html\"", "foo.html"),
    // RFC 2047 encoded words: never the raw `=?…?=`. tc2231 expects the quoted one taken
    // literally; dlm decodes it, as the name the server meant.
    ("attrfc2047token", b"attachment; filename==?ISO-8859-1?Q?foo-=E4.html?=", FROM_URL),
    ("attrfc2047quoted", b"attachment; filename=\"=?ISO-8859-1?Q?foo-=E4.html?=\"", "foo-ä.html"),
];

#[test]
fn every_tc2231_case_gives_the_expected_name() {
    let url = url::Url::parse(URL).unwrap();
    let wrong: Vec<String> = TC2231
        .iter()
        .filter_map(|&(case, raw, want)| {
            let got = choose_name(Some(raw), &url, None);
            (got != *want).then(|| format!("{case}: got {got:?}, want {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} cases wrong:\n{}", wrong.len(), TC2231.len(), wrong.join("\n"));
}

/// Downloads `/f/PATH` with the given Content-Disposition (sent as ISO-8859-1 bytes when
/// `latin1`) and returns the name of the file it was saved as.
async fn saved_name(server: &TestServer, h: &mut Harness, path: &str, cd: &str, latin1: bool) -> String {
    let cd: String = url::form_urlencoded::byte_serialize(cd.as_bytes()).collect();
    let latin1 = if latin1 { "&cd_latin1=1" } else { "" };
    let id = h.add(server.url(&format!("/f/{path}?size=1000&cd={cd}{latin1}")));
    let saved = completed_path(&h.finish(id).await);
    assert_file(&saved, &content(path, 1000));
    saved.file_name().unwrap().to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_quoted_non_ascii_name_is_used_whether_sent_as_utf8_or_latin1() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cd = "attachment; filename=\"résumé 2026.pdf\"";
    assert_eq!(saved_name(&server, &mut h, "utf8.bin", cd, false).await, "résumé 2026.pdf");
    let cd = "attachment; filename=\"naïve café.txt\"";
    assert_eq!(saved_name(&server, &mut h, "latin1.bin", cd, true).await, "naïve café.txt");
}

#[tokio::test]
async fn broken_headers_give_the_url_name_or_the_decoded_one_never_a_fragment() {
    let server = TestServer::start().await;
    let mut h = Harness::new();
    let cases = [
        ("two-fields.bin", "attachment; filename=foo.html, attachment; filename=bar.html", "two-fields.bin"),
        ("stray-quote.bin", "attachment; filename=foo\"bar;baz\"qux", "stray-quote.bin"),
        ("quoted-type.bin", "\"attachment\"; filename=x.html", "quoted-type.bin"),
        ("encoded-word.bin", "attachment; filename=\"=?ISO-8859-1?Q?foo-=E4.html?=\"", "foo-ä.html"),
        ("quoted-star.bin", "attachment; filename*=\"UTF-8''x.html\"; filename=plain.txt", "plain.txt"),
    ];
    for (path, cd, want) in cases {
        assert_eq!(saved_name(&server, &mut h, path, cd, false).await, want, "{cd}");
    }
}
