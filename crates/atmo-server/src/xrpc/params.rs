//! Query parameters: the query string read into an endpoint's generated
//! `Parameters` through their own `Deserialize`, then checked against the
//! lexicon's constraints.
//!
//! A query string holds only text, so the value deserializer turns it into
//! what each field asks for: integers (`limit=50`), booleans (`true` or
//! `false`, nothing else), strings and formats (`feed=at://...`), and arrays
//! from repeated names (`uris=a&uris=b`). A name given twice for a single
//! value is refused. Unknown names are ignored, as the generated decoders
//! ignore unknown properties. Where `@atproto/xrpc-server` is lenient
//! (`parseInt("12abc")` is 12, any boolean but `true` is `false`), this is
//! strict: the request is refused naming the parameter.

use std::fmt;

use atmo_types::validate::Validate;
use atmo_types::xrpc::ServerEndpoint;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::XrpcError;

/// A parameter that could not be read: which one (when known) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError {
    /// The parameter's name.
    pub param: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.param {
            Some(p) => write!(f, "parameter `{p}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParamsError {}

impl de::Error for ParamsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ParamsError {
            param: None,
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        ParamsError {
            param: Some(field.to_owned()),
            message: "required, not given".into(),
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        ParamsError {
            param: Some(field.to_owned()),
            message: "given more than once".into(),
        }
    }
}

impl From<ParamsError> for XrpcError {
    /// 400 `InvalidRequest` naming the parameter.
    fn from(e: ParamsError) -> Self {
        XrpcError::invalid_request(e.to_string())
    }
}

/// The pairs of a query string (`a=1&b=x%20y`), percent-decoded, `+` as a
/// space, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Reads endpoint `E`'s parameters from a query string and checks them
/// against the lexicon ([`atmo_types::xrpc::Endpoint::validate_params`]). Either failure is a
/// 400 `InvalidRequest` whose message names the parameter.
///
/// ```
/// use atmo_server::xrpc::decode_params;
/// use atmo_api::app::bsky::feed::get_feed_skeleton::GetFeedSkeleton;
///
/// let p = decode_params::<GetFeedSkeleton>("feed=at%3A%2F%2Fdid%3Aplc%3Aabc%2Fapp.bsky.feed.generator%2Fx&limit=10")?;
/// assert_eq!(p.limit, 10);
/// let e = decode_params::<GetFeedSkeleton>("feed=at://did:plc:abc/app.bsky.feed.generator/x&limit=1000")
///     .unwrap_err();
/// assert!(e.message().unwrap().contains("limit"), "{e}");
/// # Ok::<(), atmo_server::xrpc::XrpcError>(())
/// ```
pub fn decode_params<E: ServerEndpoint>(query: &str) -> Result<E::Params, XrpcError> {
    let params = E::decode_params(QueryDeserializer::new(query_pairs(query)))?;
    E::validate_params(&params).map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    Ok(params)
}

/// Reads any `Parameters` type (a subscription's) from a query string and
/// checks it against its lexicon constraints.
pub fn decode_params_of<P>(query: &str) -> Result<P, XrpcError>
where
    P: de::DeserializeOwned + Validate,
{
    let params = P::deserialize(QueryDeserializer::new(query_pairs(query)))?;
    params
        .validate()
        .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    Ok(params)
}

/// A serde deserializer over the pairs of a query string: a map from each
/// name to its values.
pub struct QueryDeserializer {
    entries: Vec<(String, Vec<String>)>,
}

impl QueryDeserializer {
    /// Groups the pairs by name (first appearance order; values in order).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            match entries.iter_mut().find(|(n, _)| *n == k) {
                Some((_, values)) => values.push(v),
                None => entries.push((k, vec![v])),
            }
        }
        QueryDeserializer { entries }
    }
}

impl<'de> de::Deserializer<'de> for QueryDeserializer {
    type Error = ParamsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_map(Entries {
            iter: self.entries.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries {
    iter: std::vec::IntoIter<(String, Vec<String>)>,
    current: Option<(String, Vec<String>)>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = ParamsError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamsError> {
        let Some((name, values)) = self.iter.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(name.clone().into_deserializer())?;
        self.current = Some((name, values));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamsError> {
        let (name, values) = self
            .current
            .take()
            .ok_or_else(|| <ParamsError as de::Error>::custom("a value without its name"))?;
        seed.deserialize(Values { values: &values })
            .map_err(|mut e| {
                e.param.get_or_insert(name);
                e
            })
    }
}

/// The values of one name.
struct Values<'a> {
    values: &'a [String],
}

impl Values<'_> {
    /// The one value of a single-valued parameter.
    fn one(&self) -> Result<&str, ParamsError> {
        match self.values {
            [v] => Ok(v),
            [] => Err(de::Error::custom("no value")),
            _ => Err(de::Error::custom(
                "given more than once, but it is not an array",
            )),
        }
    }

    fn int<T: std::str::FromStr>(&self) -> Result<T, ParamsError> {
        let v = self.one()?;
        v.parse()
            .map_err(|_| de::Error::custom(format!("{v:?} is not an integer in range")))
    }
}

macro_rules! ints {
    ($($method:ident $visit:ident $t:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
            visitor.$visit(self.int::<$t>()?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Values<'_> {
    type Error = ParamsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        if self.values.len() == 1 {
            visitor.visit_string(self.one()?.to_owned())
        } else {
            self.deserialize_seq(visitor)
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        match self.one()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            v => Err(de::Error::custom(format!(
                "{v:?} is not a boolean (true or false)"
            ))),
        }
    }

    ints! {
        deserialize_i8 visit_i8 i8;
        deserialize_i16 visit_i16 i16;
        deserialize_i32 visit_i32 i32;
        deserialize_i64 visit_i64 i64;
        deserialize_u8 visit_u8 u8;
        deserialize_u16 visit_u16 u16;
        deserialize_u32 visit_u32 u32;
        deserialize_u64 visit_u64 u64;
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        let v = self.one()?;
        visitor.visit_f64(
            v.parse()
                .map_err(|_| de::Error::custom(format!("{v:?} is not a number")))?,
        )
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_string(self.one()?.to_owned())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_seq(Items {
            iter: self.values.iter(),
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_enum(self.one()?.to_owned().into_deserializer())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct tuple tuple_struct map struct
    }
}

/// The values of an array parameter, one by one.
struct Items<'a> {
    iter: std::slice::Iter<'a, String>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = ParamsError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamsError> {
        match self.iter.next() {
            Some(v) => seed
                .deserialize(Values {
                    values: std::slice::from_ref(v),
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct P {
        limit: Option<i64>,
        flag: Option<bool>,
        uris: Option<Vec<String>>,
        name: String,
    }

    fn read(q: &str) -> Result<P, ParamsError> {
        P::deserialize(QueryDeserializer::new(query_pairs(q)))
    }

    #[test]
    fn typed_values_arrays_and_percent_decoding() {
        let p = read("limit=5&flag=true&uris=a&uris=b%20c&name=x+y&other=1").unwrap();
        assert_eq!(
            p,
            P {
                limit: Some(5),
                flag: Some(true),
                uris: Some(vec!["a".into(), "b c".into()]),
                name: "x y".into()
            }
        );
    }

    #[test]
    fn refusals_name_the_parameter() {
        let e = read("limit=12abc&name=x").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limit"), "{e}");
        let e = read("flag=yes&name=x").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("flag"), "{e}");
        let e = read("name=x&name=y").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("name"), "{e}");
        let e = read("limit=1").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("name"), "{e}");
    }
}
