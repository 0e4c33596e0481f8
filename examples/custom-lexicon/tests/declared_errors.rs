//! The generated `declared_errors(nsid)` table: the error names an endpoint
//! declares, looked up by NSID, only for compiled-in namespaces.

#[test]
fn an_endpoint_of_the_app_lexicons_lists_its_errors() {
    assert_eq!(
        custom_lexicon_example::lexicons::declared_errors("com.example.todo.listItems"),
        Some(&["UnknownActor"][..])
    );
}

#[test]
fn official_endpoints_list_their_errors_in_lexicon_order() {
    assert_eq!(
        atmo_api::declared_errors("com.atproto.server.refreshSession"),
        Some(&["AccountTakedown", "InvalidToken", "ExpiredToken"][..])
    );
    let get_session = atmo_api::declared_errors("com.atproto.server.getSession");
    assert_eq!(get_session, Some(&[][..]), "declares none");
    // A subscription declares errors too.
    let repos = atmo_api::declared_errors("com.atproto.sync.subscribeRepos").unwrap();
    assert!(repos.contains(&"FutureCursor"), "{repos:?}");
}

// Gating by feature is checked on the generated text in lexgen's tests:
// here, feature unification (`--all-features`) could turn any namespace on.
#[test]
fn records_and_unknown_nsids_are_none() {
    // A record type is not an endpoint.
    assert_eq!(atmo_api::declared_errors("app.bsky.feed.post"), None);
    assert_eq!(
        custom_lexicon_example::lexicons::declared_errors("com.example.todo.item"),
        None
    );
    assert_eq!(atmo_api::declared_errors("com.example.nothing"), None);
}
