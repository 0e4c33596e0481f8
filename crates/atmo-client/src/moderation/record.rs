//! Just the parts of a post record that muted-word matching reads, decoded
//! from the view's raw JSON without building a tree and borrowing every
//! string that has no escape sequence.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A string borrowed from the input when it can be.
#[derive(Default)]
pub(super) struct CowStr<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// An object type that keeps the listed keys (each optional) and skips the
/// rest unparsed.
macro_rules! lite {
    ($name:ident < $a:lifetime > { $($key:literal => $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Default)]
        pub(super) struct $name<$a> {
            $(pub(super) $field: Option<$ty>,)*
            _borrow: PhantomData<&$a ()>,
        }
        impl<'de: $a, $a> Deserialize<'de> for $name<$a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<$a>(PhantomData<&$a ()>);
                impl<'de: $a, $a> Visitor<'de> for V<$a> {
                    type Value = $name<$a>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<CowStr<'de>>()? {
                            match key.0.as_ref() {
                                $($key => out.$field = Some(map.next_value()?),)*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(PhantomData))
            }
        }
    };
}

lite!(PostLite<'a> {
    "$type" => ty: CowStr<'a>,
    "text" => text: CowStr<'a>,
    "facets" => facets: Vec<FacetLite<'a>>,
    "tags" => tags: Vec<CowStr<'a>>,
    "langs" => langs: Vec<CowStr<'a>>,
    "embed" => embed: EmbedLite<'a>,
});

lite!(FacetLite<'a> {
    "features" => features: Vec<FeatureLite<'a>>,
});

lite!(FeatureLite<'a> {
    "$type" => ty: CowStr<'a>,
    "tag" => tag: CowStr<'a>,
});

lite!(EmbedLite<'a> {
    "$type" => ty: CowStr<'a>,
    "images" => images: Vec<ItemLite<'a>>,
    "items" => items: Vec<ItemLite<'a>>,
    "external" => external: ExternalLite<'a>,
    "media" => media: Box<EmbedLite<'a>>,
});

lite!(ItemLite<'a> {
    "$type" => ty: CowStr<'a>,
    "alt" => alt: CowStr<'a>,
});

lite!(ExternalLite<'a> {
    "title" => title: CowStr<'a>,
    "description" => description: CowStr<'a>,
});

/// Whether `ty` names `nsid#hash` (`main` may be written without the hash),
/// as the TypeScript `is$typed` checks.
pub(super) fn is_type(ty: Option<&CowStr<'_>>, nsid: &str, hash: &str) -> bool {
    let Some(ty) = ty else { return false };
    let ty = ty.0.as_ref();
    match ty.strip_prefix(nsid) {
        Some("") => hash == "main",
        Some(rest) => rest.strip_prefix('#') == Some(hash),
        None => false,
    }
}

impl<'a> PostLite<'a> {
    pub(super) fn text(&self) -> &str {
        self.text.as_ref().map_or("", |t| t.0.as_ref())
    }

    pub(super) fn langs(&self) -> Vec<&str> {
        self.langs.iter().flatten().map(|l| l.0.as_ref()).collect()
    }

    /// The record's `tags` and the tags of its facets.
    pub(super) fn tags(&self) -> Vec<&str> {
        let outline = self.tags.iter().flatten().map(|t| t.0.as_ref());
        let facets = self
            .facets
            .iter()
            .flatten()
            .flat_map(|f| f.features.iter().flatten())
            .filter(|f| is_type(f.ty.as_ref(), "app.bsky.richtext.facet", "tag"))
            .filter_map(|f| f.tag.as_ref().map(|t| t.0.as_ref()));
        outline.chain(facets).collect()
    }
}

impl<'a> EmbedLite<'a> {
    pub(super) fn is(&self, nsid: &str) -> bool {
        is_type(self.ty.as_ref(), nsid, "main")
    }

    /// Alt texts of an `app.bsky.embed.images` embed.
    pub(super) fn image_alts(&self) -> impl Iterator<Item = &str> {
        let on = self.is("app.bsky.embed.images");
        self.images
            .iter()
            .flatten()
            .filter(move |_| on)
            .map(|i| i.alt.as_ref().map_or("", |a| a.0.as_ref()))
    }

    /// Alt texts of the images of an `app.bsky.embed.gallery` embed.
    pub(super) fn gallery_alts(&self) -> impl Iterator<Item = &str> {
        let on = self.is("app.bsky.embed.gallery");
        self.items
            .iter()
            .flatten()
            .filter(move |i| on && is_type(i.ty.as_ref(), "app.bsky.embed.gallery", "image"))
            .map(|i| i.alt.as_ref().map_or("", |a| a.0.as_ref()))
    }

    /// Title and description of an `app.bsky.embed.external` embed, joined
    /// by a space.
    pub(super) fn external_text(&self) -> Option<String> {
        if !self.is("app.bsky.embed.external") {
            return None;
        }
        let e = self.external.as_ref()?;
        let title = e.title.as_ref().map_or("", |t| t.0.as_ref());
        let description = e.description.as_ref().map_or("", |t| t.0.as_ref());
        Some(format!("{title} {description}"))
    }
}
