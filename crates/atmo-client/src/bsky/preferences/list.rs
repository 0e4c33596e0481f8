//! The raw preference list a read-modify-write works on, the per-session
//! lock that serialises those writes, and the round trip itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use atmo_api::app::bsky::actor::defs::{
    AdultContentPref, BskyAppStatePref, ContentLabelPref, DeclaredAgePref, FeedViewPref,
    HiddenPostsPref, InterestsPref, LabelersPref, LiveEventPreferences, MutedWordsPref,
    PersonalDetailsPref, PostInteractionSettingsPref, PreferencesItem, SavedFeedsPref,
    SavedFeedsPrefV2, ThreadViewPref, VerificationPrefs,
};
use atmo_types::validate::{Validate, ValidationError, Violation};
use atmo_types::xrpc::{Method, RawBody};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::agent::{Agent, CallOptions};
use crate::error::{AnyError, Error};
use crate::session::SessionManager;

/// `app.bsky.actor.getPreferences`.
pub(super) const GET: &str = "app.bsky.actor.getPreferences";
/// `app.bsky.actor.putPreferences`.
pub(super) const PUT: &str = "app.bsky.actor.putPreferences";

/// A typed preference item of `app.bsky.actor.defs#preferences`: its
/// `$type` and how it becomes a [`PreferencesItem`]. Implemented for every
/// item type of the lexicon, so [`PreferenceList::last`] and
/// [`PreferenceList::replace`] can work on them by type.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
/// use atmo_client::bsky::PreferenceType;
/// assert_eq!(AdultContentPref::TYPE, "app.bsky.actor.defs#adultContentPref");
/// ```
pub trait PreferenceType: DeserializeOwned + Validate + Sized {
    /// The item's `$type`.
    const TYPE: &'static str;
    /// The item as a member of the union.
    fn into_item(self) -> PreferencesItem;
}

macro_rules! preference_types {
    ($($t:ident => $name:literal),* $(,)?) => {$(
        impl PreferenceType for $t {
            const TYPE: &'static str = $name;
            fn into_item(self) -> PreferencesItem {
                PreferencesItem::$t(Box::new(self))
            }
        }
    )*};
}

preference_types! {
    AdultContentPref => "app.bsky.actor.defs#adultContentPref",
    ContentLabelPref => "app.bsky.actor.defs#contentLabelPref",
    SavedFeedsPref => "app.bsky.actor.defs#savedFeedsPref",
    SavedFeedsPrefV2 => "app.bsky.actor.defs#savedFeedsPrefV2",
    PersonalDetailsPref => "app.bsky.actor.defs#personalDetailsPref",
    DeclaredAgePref => "app.bsky.actor.defs#declaredAgePref",
    FeedViewPref => "app.bsky.actor.defs#feedViewPref",
    ThreadViewPref => "app.bsky.actor.defs#threadViewPref",
    InterestsPref => "app.bsky.actor.defs#interestsPref",
    MutedWordsPref => "app.bsky.actor.defs#mutedWordsPref",
    HiddenPostsPref => "app.bsky.actor.defs#hiddenPostsPref",
    BskyAppStatePref => "app.bsky.actor.defs#bskyAppStatePref",
    LabelersPref => "app.bsky.actor.defs#labelersPref",
    PostInteractionSettingsPref => "app.bsky.actor.defs#postInteractionSettingsPref",
    VerificationPrefs => "app.bsky.actor.defs#verificationPrefs",
    LiveEventPreferences => "app.bsky.actor.defs#liveEventPreferences",
}

/// The preference items of an account exactly as the server sent them, for
/// a read-modify-write ([`Agent::update_preferences`]).
///
/// Items are kept as JSON: an item no helper touches (one of a type this
/// build does not know, one with properties it does not declare, even a
/// malformed one) is written back exactly as it was read. Typed access
/// decodes on demand: [`PreferenceList::last`] is the last item of a type
/// that decodes (as `@atproto/api`'s `findLast(isValid…)`), and
/// [`PreferenceList::replace`] drops every item of the type, decodable or
/// not, and appends the new one (as its `filter(!is…).concat(…)`).
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
/// use atmo_client::bsky::PreferenceList;
/// use serde_json::json;
///
/// let mut list = PreferenceList::new(vec![
///     json!({"$type": "app.bsky.actor.defs#adultContentPref", "enabled": false}),
///     json!({"$type": "app.bsky.example.futurePref", "x": 1}),
/// ]);
/// let mut pref = list.last::<AdultContentPref>().unwrap();
/// pref.enabled = true;
/// list.replace(pref);
/// assert_eq!(list.values()[0], json!({"$type": "app.bsky.example.futurePref", "x": 1}));
/// assert_eq!(list.values()[1]["enabled"], json!(true));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreferenceList {
    values: Vec<Value>,
    /// Violations of the items written through the typed methods.
    violations: Vec<Violation>,
}

impl PreferenceList {
    /// A list over these items (as `getPreferences` returned them).
    pub fn new(values: Vec<Value>) -> Self {
        PreferenceList {
            values,
            violations: Vec::new(),
        }
    }

    /// The items, in order.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// assert!(PreferenceList::default().values().is_empty());
    /// ```
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The items, given up.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// assert!(PreferenceList::default().into_values().is_empty());
    /// ```
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// Every item that decodes as a member of the lexicon's union, in
    /// order: an unknown `$type` as [`PreferencesItem::Unknown`]; malformed
    /// items and items without `$type` are left out.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// # use serde_json::json;
    /// let list = PreferenceList::new(vec![
    ///     json!({"$type": "app.bsky.actor.defs#adultContentPref"}), // lacks `enabled`
    ///     json!({"$type": "app.bsky.actor.defs#adultContentPref", "enabled": true}),
    /// ]);
    /// assert_eq!(list.items().len(), 1);
    /// ```
    pub fn items(&self) -> Vec<PreferencesItem> {
        self.values
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    /// The last item of type `T` that decodes, if any.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
    /// # use serde_json::json;
    /// let list = PreferenceList::new(vec![
    ///     json!({"$type": "app.bsky.actor.defs#adultContentPref", "enabled": true}),
    ///     json!({"$type": "app.bsky.actor.defs#adultContentPref", "enabled": "yes"}),
    /// ]);
    /// assert!(list.last::<AdultContentPref>().unwrap().enabled);
    /// ```
    pub fn last<T: PreferenceType>(&self) -> Option<T> {
        self.values
            .iter()
            .rev()
            .filter(|v| type_of(v) == Some(T::TYPE))
            .find_map(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Every item of type `T` that decodes, in order.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::FeedViewPref;
    /// # use serde_json::json;
    /// let list = PreferenceList::new(vec![
    ///     json!({"$type": "app.bsky.actor.defs#feedViewPref", "feed": "home"}),
    ///     json!({"$type": "app.bsky.actor.defs#feedViewPref", "feed": "at://x"}),
    /// ]);
    /// assert_eq!(list.all::<FeedViewPref>().len(), 2);
    /// ```
    pub fn all<T: PreferenceType>(&self) -> Vec<T> {
        self.values
            .iter()
            .filter(|v| type_of(v) == Some(T::TYPE))
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    /// Drops every item of `pref`'s type and appends `pref`.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
    /// let mut list = PreferenceList::default();
    /// list.replace(AdultContentPref::new(true));
    /// list.replace(AdultContentPref::new(false));
    /// assert_eq!(list.values().len(), 1);
    /// ```
    pub fn replace<T: PreferenceType>(&mut self, pref: T) {
        self.remove_type(T::TYPE);
        self.push(pref);
    }

    /// Appends `pref` (its type's other items stay).
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::FeedViewPref;
    /// let mut list = PreferenceList::default();
    /// list.push(FeedViewPref::new("home".into()));
    /// list.push(FeedViewPref::new("at://did:plc:x/app.bsky.feed.generator/y".into()));
    /// assert_eq!(list.values().len(), 2);
    /// ```
    pub fn push<T: PreferenceType>(&mut self, pref: T) {
        if let Err(ValidationError(v)) = pref.validate() {
            self.violations.extend(v.into_iter().map(|mut v| {
                v.path = if v.path.is_empty() {
                    T::TYPE.to_owned()
                } else {
                    format!("{}.{}", T::TYPE, v.path)
                };
                v
            }));
        }
        match serde_json::to_value(pref.into_item()) {
            Ok(value) => self.values.push(value),
            // Serialising generated types into JSON values does not fail;
            // should it ever, the write is refused rather than losing it.
            Err(e) => self.violations.push(Violation {
                path: T::TYPE.to_owned(),
                message: format!("cannot be written as JSON: {e}"),
            }),
        }
    }

    /// Appends an item as it is (it must have a `$type` in the `app.bsky`
    /// namespace for the PDS to take it).
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// let mut list = PreferenceList::default();
    /// list.push_raw(serde_json::json!({"$type": "app.bsky.example.pref"}));
    /// assert_eq!(list.values().len(), 1);
    /// ```
    pub fn push_raw(&mut self, value: Value) {
        self.values.push(value);
    }

    /// Drops every item whose `$type` is `type_name`.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// let mut list = PreferenceList::new(vec![serde_json::json!({"$type": "app.bsky.x"})]);
    /// list.remove_type("app.bsky.x");
    /// assert!(list.values().is_empty());
    /// ```
    pub fn remove_type(&mut self, type_name: &str) {
        self.values.retain(|v| type_of(v) != Some(type_name));
    }

    /// Keeps only the items `keep` says yes to.
    ///
    /// ```
    /// # use atmo_client::bsky::PreferenceList;
    /// let mut list = PreferenceList::new(vec![serde_json::json!({"$type": "app.bsky.x"})]);
    /// list.retain(|v| v["$type"] != "app.bsky.x");
    /// assert!(list.values().is_empty());
    /// ```
    pub fn retain(&mut self, keep: impl FnMut(&Value) -> bool) {
        self.values.retain(keep);
    }

    /// Violations of the items pushed through the typed methods.
    pub(super) fn take_violations(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }
}

/// The `$type` of a JSON item.
pub(super) fn type_of(v: &Value) -> Option<&str> {
    v.get("$type").and_then(Value::as_str)
}

/// One lock per session manager (every clone of an agent shares its
/// manager), held only while a read-modify-write runs: an entry whose lock
/// nobody holds or waits for is dropped, so a manager dropped later cannot
/// leave one behind for another that reuses its address.
fn lock_for(key: usize) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: Mutex<Option<HashMap<usize, Weak<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
    // A poisoned registry only means a panic elsewhere while it was held;
    // the map itself is always consistent.
    let mut guard = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    map.insert(key, Arc::downgrade(&lock));
    lock
}

impl<M: SessionManager> Agent<M> {
    /// The key of this agent's preference lock: its session manager, which
    /// every clone of the agent shares.
    fn preferences_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        lock_for(std::ptr::from_ref(self.manager()).cast::<()>() as usize)
    }

    /// The account's preference items as JSON, as the server sent them
    /// (`app.bsky.actor.getPreferences`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let items = agent.get_preferences_raw().await?;
    /// println!("{} items", items.len());
    /// # Ok(()) }
    /// ```
    pub async fn get_preferences_raw(&self) -> Result<Vec<Value>, AnyError> {
        let body = self
            .call_raw(GET, Method::Query, &[], None, &CallOptions::default())
            .await
            .map_err(|e| {
                AnyError::from(e.typed::<atmo_api::app::bsky::actor::get_preferences::Error>(GET))
            })?;
        let answer: Map<String, Value> = serde_json::from_slice(&body.bytes).map_err(|e| {
            AnyError::Invalid(format!("{GET}: the answer is not a JSON object: {e}"))
        })?;
        match answer.get("preferences") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(Error::Invalid(format!(
                "{GET}: the answer has no `preferences` array"
            ))),
        }
    }

    /// Replaces the account's preference items with `items`
    /// (`app.bsky.actor.putPreferences`), sent as they are. Every item needs
    /// a `$type` in the `app.bsky` namespace (the PDS refuses others).
    /// Prefer the helpers, which read, change and write under the agent's
    /// lock.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let items = agent.get_preferences_raw().await?;
    /// agent.put_preferences_raw(&items).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_preferences_raw(&self, items: &[Value]) -> Result<(), AnyError> {
        let mut body = Map::new();
        body.insert("preferences".to_owned(), Value::Array(items.to_vec()));
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| AnyError::Invalid(format!("{PUT}: cannot encode the preferences: {e}")))?;
        self.call_raw(
            PUT,
            Method::Procedure,
            &[],
            Some(RawBody::new("application/json", bytes)),
            &CallOptions::default(),
        )
        .await
        .map_err(|e| {
            AnyError::from(e.typed::<atmo_api::app::bsky::actor::put_preferences::Error>(PUT))
        })?;
        Ok(())
    }

    /// A read-modify-write of the account's preferences, as every helper
    /// does it (`@atproto/api`'s `updatePreferences`): under the agent's
    /// lock (shared by its clones), reads the items, lets `edit` change the
    /// [`PreferenceList`], and writes the list back unless it is unchanged.
    /// Items `edit` does not touch are written back exactly as read.
    ///
    /// The lock serialises the writes of this agent (and its clones); two
    /// agents with separate sessions, or another app, can still write
    /// between this read and this write, and then the later write wins
    /// (`putPreferences` replaces the whole list and has no
    /// compare-and-swap), as with `@atproto/api`.
    ///
    /// Items `edit` adds through the typed methods are checked against the
    /// lexicon first when the agent validates requests
    /// ([`crate::AgentBuilder::validate_requests`]): then a violation fails
    /// with [`Error::Validation`] and nothing is written.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
    /// let was = agent
    ///     .update_preferences(|list| {
    ///         let was = list.last::<AdultContentPref>().is_some_and(|p| p.enabled);
    ///         list.replace(AdultContentPref::new(true));
    ///         Ok(was)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_preferences<T, F>(&self, edit: F) -> Result<T, AnyError>
    where
        F: FnOnce(&mut PreferenceList) -> Result<T, AnyError> + Send,
        T: Send,
    {
        let lock = self.preferences_lock();
        let _held = lock.lock().await;
        let before = self.get_preferences_raw().await?;
        let mut list = PreferenceList::new(before.clone());
        let out = edit(&mut list)?;
        let violations = list.take_violations();
        if self.validates_requests() && !violations.is_empty() {
            return Err(Error::Validation {
                nsid: PUT.to_owned(),
                error: ValidationError(violations),
            });
        }
        if list.values() != before.as_slice() {
            self.put_preferences_raw(list.values()).await?;
        }
        Ok(out)
    }
}
