//! Facet detection: every case asserts the exact UTF-8 byte range, the text
//! under it and what was detected. The expectations follow the official
//! client's documented behaviour and test cases, plus emoji, combining marks,
//! RTL, CJK and zero-width characters.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_richtext::{detect_facets, Feature};

/// `(start, end, text under the range, "kind:value")` for every facet.
fn found(text: &str) -> Vec<(usize, usize, String, String)> {
    detect_facets(text)
        .into_iter()
        .map(|f| {
            assert_eq!(f.features.len(), 1, "one feature per detected facet");
            let what = match &f.features[0] {
                Feature::UnresolvedMention(h) => format!("mention:{h}"),
                Feature::Link(uri) => format!("link:{uri}"),
                Feature::Tag(tag) => format!("tag:{tag}"),
                other => panic!("detection made {other:?}"),
            };
            (f.start, f.end, text[f.range()].to_owned(), what)
        })
        .collect()
}

macro_rules! cases {
    ($($name:ident: $text:expr => [$(($s:expr, $e:expr, $under:expr, $what:expr)),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                let expected: Vec<(usize, usize, String, String)> =
                    vec![$(($s, $e, String::from($under), String::from($what))),*];
                assert_eq!(found($text), expected, "in {:?}", $text);
            }
        )*
    };
}

// ---------------------------------------------------------------- mentions
cases! {
    mention_at_start: "@handle.com middle end" => [(0, 11, "@handle.com", "mention:handle.com")];
    mention_in_middle: "start @handle.com end" => [(6, 17, "@handle.com", "mention:handle.com")];
    mention_at_end: "start middle @handle.com" => [(13, 24, "@handle.com", "mention:handle.com")];
    mention_three_times: "@handle.com @handle.com @handle.com" => [
        (0, 11, "@handle.com", "mention:handle.com"),
        (12, 23, "@handle.com", "mention:handle.com"),
        (24, 35, "@handle.com", "mention:handle.com"),
    ];
    mention_test_domain_with_digits_and_hyphen: "@full123-chars.test" => [(0, 19, "@full123-chars.test", "mention:full123-chars.test")];
    mention_needs_leading_space: "not@right" => [];
    mention_email_address_is_not_mention_or_link: "mail bob@example.com" => [];
    mention_stops_at_punctuation: "@handle.com!@#$chars" => [(0, 11, "@handle.com", "mention:handle.com")];
    mention_after_newline: "@handle.com\n@handle.com" => [
        (0, 11, "@handle.com", "mention:handle.com"),
        (12, 23, "@handle.com", "mention:handle.com"),
    ];
    mention_in_parentheses: "parenthetical (@handle.com)" => [(15, 26, "@handle.com", "mention:handle.com")];
    mention_between_zwj_emoji: "👨‍👩‍👧‍👧 @handle.com 👨‍👩‍👧‍👧" => [(26, 37, "@handle.com", "mention:handle.com")];
    mention_trailing_dot_left_out: "ping @alice.bsky.social." => [(5, 23, "@alice.bsky.social", "mention:alice.bsky.social")];
    mention_trailing_hyphen_left_out: "@alice.com- hi" => [(0, 10, "@alice.com", "mention:alice.com")];
    mention_unknown_tld_ignored: "@alice.notatld and @localhost" => [];
    mention_uppercase_tld_ignored_like_official: "@alice.COM" => [];
    mention_invalid_handle_ignored: "@-alice.com" => [];
    mention_underscore_breaks_handle: "@alice.com_x" => [];
    mention_punycode_tld_unknown_like_official: "@name.xn--p1ai" => [];
    mention_after_cjk_needs_space: "你好@alice.com" => [];
    mention_after_ideographic_space: "你好\u{3000}@alice.com" => [(9, 19, "@alice.com", "mention:alice.com")];
    mention_after_rtl_text: "שלום @alice.com" => [(9, 19, "@alice.com", "mention:alice.com")];
    mention_in_rtl_isolate_marks: "\u{2067}@alice.com\u{2069}" => [];
}

// ---------------------------------------------------------------- links
cases! {
    link_https_in_middle: "start https://middle.com end" => [(6, 24, "https://middle.com", "link:https://middle.com")];
    link_with_path_query_hash: "start https://middle.com/foo/bar?baz=bux#hash end" => [
        (6, 45, "https://middle.com/foo/bar?baz=bux#hash", "link:https://middle.com/foo/bar?baz=bux#hash"),
    ];
    link_at_start: "https://start.com/foo middle end" => [(0, 21, "https://start.com/foo", "link:https://start.com/foo")];
    link_http_scheme: "old http://example.com" => [(4, 22, "http://example.com", "link:http://example.com")];
    links_on_separate_lines: "https://newline1.com\nhttps://newline2.com" => [
        (0, 20, "https://newline1.com", "link:https://newline1.com"),
        (21, 41, "https://newline2.com", "link:https://newline2.com"),
    ];
    link_between_zwj_emoji: "👨‍👩‍👧‍👧 https://middle.com 👨‍👩‍👧‍👧" => [(26, 44, "https://middle.com", "link:https://middle.com")];
    bare_domain: "start middle.com end" => [(6, 16, "middle.com", "link:https://middle.com")];
    bare_domain_with_path: "start middle.com/foo/bar?baz=bux#hash end" => [
        (6, 37, "middle.com/foo/bar?baz=bux#hash", "link:https://middle.com/foo/bar?baz=bux#hash"),
    ];
    bare_domains_on_separate_lines: "newline1.com\nnewline2.com" => [
        (0, 12, "newline1.com", "link:https://newline1.com"),
        (13, 25, "newline2.com", "link:https://newline2.com"),
    ];
    bare_domain_with_file_path: "a example.com/index.php php link" => [(2, 23, "example.com/index.php", "link:https://example.com/index.php")];
    bare_domain_trailing_colon: "a trailing bsky.app: colon" => [(11, 19, "bsky.app", "link:https://bsky.app")];
    not_a_link_double_dots: "not.. a..url ..here" => [];
    not_a_link_abbreviation: "e.g." => [];
    not_a_link_file_name: "something-cool.jpg" => [];
    not_a_link_unknown_last_label: "website.com.jpg" => [];
    not_a_link_abbreviation_with_path: "e.g./foo" => [];
    not_a_link_unknown_last_label_with_path: "website.com.jpg/foo" => [];
    not_a_link_scheme_only: "see https:// there" => [];
    not_a_link_hyphenated_bare_domain_like_official: "visit my-site.com" => [];
    bare_domain_cut_at_hyphen_like_official: "sub.my-site.com" => [(0, 15, "sub.my-site.com", "link:https://sub.my-site.com")];
    link_trailing_slash_kept: "Classic https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/ " => [
        (8, 86, "https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
         "link:https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/"),
    ];
    links_with_trailing_punctuation: "punctuation https://foo.com, https://bar.com/whatever; https://baz.com." => [
        (12, 27, "https://foo.com", "link:https://foo.com"),
        (29, 53, "https://bar.com/whatever", "link:https://bar.com/whatever"),
        (55, 70, "https://baz.com", "link:https://baz.com"),
    ];
    link_only_one_trailing_dot_left_out: "ends with two dots example.com.." => [(19, 31, "example.com.", "link:https://example.com.")];
    link_in_parentheses: "parenthentical (https://foo.com)" => [(16, 31, "https://foo.com", "link:https://foo.com")];
    bare_domain_in_parentheses: "(see example.com)" => [(5, 16, "example.com", "link:https://example.com")];
    link_keeps_balanced_parenthesis: "except for https://foo.com/thing_(cool)" => [(11, 39, "https://foo.com/thing_(cool)", "link:https://foo.com/thing_(cool)")];
    link_in_parentheses_with_parenthesis_inside: "(https://en.wikipedia.org/wiki/Rust_(programming_language))" => [
        (1, 59, "https://en.wikipedia.org/wiki/Rust_(programming_language))",
         "link:https://en.wikipedia.org/wiki/Rust_(programming_language))"),
    ];
    link_with_emoji_in_path: "url with emoji path https://example.com/🦋?q=1" => [(20, 48, "https://example.com/🦋?q=1", "link:https://example.com/🦋?q=1")];
    link_uppercase_scheme: "HTTPS://EXAMPLE.COM/x" => [(0, 21, "HTTPS://EXAMPLE.COM/x", "link:HTTPS://EXAMPLE.COM/x")];
    bare_domain_uppercase_tld_ignored_like_official: "Example.COM" => [];
    bare_domain_uppercase_name: "Example.com" => [(0, 11, "Example.com", "link:https://Example.com")];
    bare_domain_starting_with_http: "httpbin.org/get" => [(0, 15, "httpbin.org/get", "link:https://httpbin.org/get")];
    link_after_cjk_needs_space: "看看：example.com" => [];
    link_after_cjk_and_space: "看看 example.com" => [(7, 18, "example.com", "link:https://example.com")];
    link_after_rtl_word: "בקרו example.com" => [(9, 20, "example.com", "link:https://example.com")];
    link_not_after_hebrew_prefix: "ב-example.com" => [];
}

// ---------------------------------------------------------------- tags
fn long_tag(len: usize) -> String {
    let mut tag = String::from("thisisa64characterstring_");
    while tag.len() < len {
        tag.push('a');
    }
    tag
}

cases! {
    tag_alone: "#a" => [(0, 2, "#a", "tag:a")];
    tags_two: "#a #b" => [(0, 2, "#a", "tag:a"), (3, 5, "#b", "tag:b")];
    tag_digits_only_is_not_a_tag: "#1" => [];
    tag_digit_then_letter: "#1a" => [(0, 3, "#1a", "tag:1a")];
    tag_in_body: "body #tag body" => [(5, 9, "#tag", "tag:tag")];
    tag_digits_only_in_body: "body #1" => [];
    tag_letter_then_digit: "body #a1" => [(5, 8, "#a1", "tag:a1")];
    tag_hash_alone: "#" => [];
    tag_hash_question: "#?" => [];
    tag_hash_at_end: "text #" => [];
    tag_hash_between_spaces: "text # text" => [];
    tag_double: "its a #double#rainbow" => [(6, 21, "#double#rainbow", "tag:double#rainbow")];
    tag_with_leading_hash: "##hashash" => [(0, 9, "##hashash", "tag:#hashash")];
    tag_two_hashes_only: "##" => [];
    tag_with_inner_punctuation: "some #n0n3s@n5e!" => [(5, 15, "#n0n3s@n5e", "tag:n0n3s@n5e")];
    tag_with_comma_inside: "works #with,punctuation" => [(6, 23, "#with,punctuation", "tag:with,punctuation")];
    tags_trailing_punctuation_left_out: "strips trailing #punctuation, #like. #this!" => [
        (16, 28, "#punctuation", "tag:punctuation"),
        (30, 35, "#like", "tag:like"),
        (37, 42, "#this", "tag:this"),
    ];
    tag_many_trailing_punctuation: "strips #multi_trailing___..." => [(7, 22, "#multi_trailing", "tag:multi_trailing")];
    tags_with_emoji: "works with #🦋 emoji, and #butter🦋fly" => [
        (11, 16, "#🦋", "tag:🦋"),
        (28, 42, "#butter🦋fly", "tag:butter🦋fly"),
    ];
    tag_keycap_emoji_is_not_a_tag: "this #️⃣tag should not be a tag" => [];
    tag_after_keycap_hash: "this ##️⃣tag should be a tag" => [(5, 16, "##️⃣tag", "tag:#️⃣tag")];
    tag_ends_at_newline: "this #t\nag should be a tag" => [(5, 7, "#t", "tag:t")];
    tag_ends_at_zero_width_space: "#a\u{200B}b" => [(0, 2, "#a", "tag:a")];
    tag_starting_with_zero_width_space: "#\u{200B}a" => [];
    tag_ends_at_zero_width_joiner: "#👨\u{200D}👩" => [(0, 5, "#👨", "tag:👨")];
    tag_ends_at_keycap_bar: "#a\u{20E2}b" => [(0, 2, "#a", "tag:a")];
    tag_starting_with_keycap_bar: "#\u{20E2}tag" => [];
    tag_ends_at_soft_hyphen: "#ab\u{AD}cd" => [(0, 3, "#ab", "tag:ab")];
    tag_full_width_hash: "match ＃tag" => [(6, 12, "＃tag", "tag:tag")];
    tag_full_width_hash_then_keycap: "＃#️⃣tag" => [(0, 13, "＃#️⃣tag", "tag:#️⃣tag")];
    tag_digits_and_question_mark: "no match 1?: #1?" => [];
    tag_needs_leading_space: "a#b and (#tag)" => [];
    tag_directly_after_tag_joins_it: "#a#b" => [(0, 4, "#a#b", "tag:a#b")];
    tag_japanese: "#日本語 です" => [(0, 10, "#日本語", "tag:日本語")];
    tag_cjk_with_inner_comma: "#東京、大阪" => [(0, 16, "#東京、大阪", "tag:東京、大阪")];
    tag_cjk_trailing_full_stop_left_out: "#東京。" => [(0, 7, "#東京", "tag:東京")];
    tag_accented_precomposed: "#café" => [(0, 6, "#café", "tag:café")];
    tag_combining_mark: "#cafe\u{301} ok" => [(0, 7, "#cafe\u{301}", "tag:cafe\u{301}")];
    tag_cyrillic: "привет #Привет" => [(13, 26, "#Привет", "tag:Привет")];
    tag_hebrew: "#שלום עולם" => [(0, 9, "#שלום", "tag:שלום")];
    tag_arabic_trailing_exclamation: "#مرحبا!" => [(0, 11, "#مرحبا", "tag:مرحبا")];
    tag_arabic_question_mark_left_out: "#سلام؟" => [(0, 9, "#سلام", "tag:سلام")];
    tag_full_width_digits_count_as_letters: "#１２３" => [(0, 10, "#１２３", "tag:１２３")];
    tag_after_ideographic_space: "見て\u{3000}#猫" => [(9, 13, "#猫", "tag:猫")];
}

#[test]
fn tag_of_64_graphemes_is_kept() {
    let text = format!("body #{}", long_tag(64));
    assert_eq!(
        found(&text),
        [(
            5,
            70,
            format!("#{}", long_tag(64)),
            format!("tag:{}", long_tag(64))
        )]
    );
}

#[test]
fn tag_of_65_graphemes_is_ignored() {
    assert_eq!(found(&format!("body #{}", long_tag(65))), []);
}

#[test]
fn tag_of_64_graphemes_then_punctuation_is_kept() {
    let text = format!("body #{}!", long_tag(64));
    assert_eq!(
        found(&text),
        [(
            5,
            70,
            format!("#{}", long_tag(64)),
            format!("tag:{}", long_tag(64))
        )]
    );
}

#[test]
fn tag_limit_counts_graphemes_not_utf16_units() {
    // Each butterfly is one grapheme, two UTF-16 code units, four bytes.
    let ok = format!("#{}", "🦋".repeat(64));
    assert_eq!(
        found(&ok),
        [(0, 257, ok.clone(), format!("tag:{}", &ok[1..]))]
    );
    assert_eq!(found(&format!("#{}", "🦋".repeat(65))), []);
}

#[test]
fn tag_limit_counts_combining_marks_with_their_letter() {
    // 64 graphemes of e + combining acute: 128 code points, 192 bytes.
    let ok = format!("#{}", "e\u{301}".repeat(64));
    assert_eq!(
        found(&ok),
        [(0, 193, ok.clone(), format!("tag:{}", &ok[1..]))]
    );
    assert_eq!(found(&format!("#{}", "e\u{301}".repeat(65))), []);
}

#[test]
fn tag_over_640_bytes_is_ignored_even_within_64_graphemes() {
    // Fat graphemes without a zero-width joiner (which ends a tag): 'a'
    // with five combining marks is one grapheme of 11 bytes, so 59 of them
    // are 649 bytes and 58 are 638.
    let fat = format!("a{}", "\u{301}\u{302}\u{303}\u{304}\u{305}");
    assert_eq!(fat.len(), 11);
    let too_big = format!("#{}", fat.repeat(59));
    assert_eq!(found(&too_big), []);
    let fits = format!("#{}", fat.repeat(58));
    assert_eq!(
        found(&fits),
        [(0, 639, fits.clone(), format!("tag:{}", &fits[1..]))]
    );
}

// ---------------------------------------------------------------- cashtags
cases! {
    cashtag_alone: "$AAPL" => [(0, 5, "$AAPL", "tag:$AAPL")];
    cashtag_lowercase_is_capitalised: "buy $tsla now" => [(4, 9, "$tsla", "tag:$TSLA")];
    cashtag_with_digit: "$BRK1 up" => [(0, 5, "$BRK1", "tag:$BRK1")];
    cashtag_single_letter: "$F." => [(0, 2, "$F", "tag:$F")];
    cashtag_six_characters_is_not: "$GOOGLE" => [];
    cashtag_starting_with_digit_is_not: "costs $5 or $50" => [];
    cashtag_in_parentheses: "($MSFT)" => [(1, 6, "$MSFT", "tag:$MSFT")];
    cashtag_then_punctuation_and_quotes: "\"$AMZN\", $NVDA! $META\u{2019}s" => [
        (9, 14, "$NVDA", "tag:$NVDA"),
        (16, 21, "$META", "tag:$META"),
    ];
    cashtag_needs_leading_space: "a$AAPL" => [];
    cashtag_followed_by_letter_is_not: "$AAPL家" => [];
    cashtag_followed_by_hyphen_is_not: "$AAPL-B" => [];
    cashtag_with_tag_and_mention: "#stocks $aapl @alice.test" => [
        (0, 7, "#stocks", "tag:stocks"),
        (8, 13, "$aapl", "tag:$AAPL"),
        (14, 25, "@alice.test", "mention:alice.test"),
    ];
    cashtag_after_rtl_and_ideographic_space: "שלום\u{3000}$TSLA" => [(11, 16, "$TSLA", "tag:$TSLA")];
}

// ---------------------------------------------------------------- mixed
cases! {
    all_three_kinds_in_order: "@alice.test see https://x.com and #rust" => [
        (0, 11, "@alice.test", "mention:alice.test"),
        (16, 29, "https://x.com", "link:https://x.com"),
        (34, 39, "#rust", "tag:rust"),
    ];
    mixed_rtl_and_cjk: "مرحبا @alice.test 你好 example.com #猫" => [
        (11, 22, "@alice.test", "mention:alice.test"),
        (30, 41, "example.com", "link:https://example.com"),
        (42, 46, "#猫", "tag:猫"),
    ];
    hash_and_at_inside_link_are_not_facets: "https://example.com/#anchor/@alice.com" => [
        (0, 38, "https://example.com/#anchor/@alice.com", "link:https://example.com/#anchor/@alice.com"),
    ];
    tag_and_mention_overlap_like_official: "#tag(@alice.test" => [
        (0, 16, "#tag(@alice.test", "tag:tag(@alice.test"),
        (5, 16, "@alice.test", "mention:alice.test"),
    ];
    no_facets_in_plain_text: "just some words, nothing to see." => [];
    empty_text: "" => [];
}
