//! Validation analysis: which rules each field checks, and which generated
//! types can find a violation at all.
//!
//! Lowering asks [`of_schema`] for the rules of every field; after every
//! module is lowered, [`analyze`] finds the types whose `validate()` can
//! fail (a least fixed point over containment) and prunes the field checks
//! that would only call impls that do nothing, so generated code holds no
//! useless calls.

use std::collections::BTreeSet;

use super::ir::*;
use crate::model::{ArrayDef, IntegerDef, Schema, StringDef};
use crate::resolve::{parse_ref, Set};

/// References to non-object definitions are followed this deep at most.
const MAX_REF_DEPTH: u32 = 8;

/// The rules of a value of `schema` (its Rust type `ty` when known),
/// following references to non-object definitions (a `ref` to a string def
/// with `maxLength` is checked at the field). `from` is the NSID that
/// relative references in `schema` start from.
pub fn of_schema(
    set: &Set,
    from: &str,
    schema: &Schema,
    ty: Option<&Ty>,
    depth: u32,
) -> Option<Check> {
    match schema {
        Schema::String(s) => string(s),
        Schema::Integer(i) => integer(i),
        Schema::Boolean(b) => b.const_value.map(Check::Bool),
        Schema::Bytes(b) => (b.min_length.is_some() || b.max_length.is_some())
            .then_some(Check::Bytes(b.min_length, b.max_length)),
        Schema::Blob(b) => (b.accept.is_some() || b.max_size.is_some())
            .then(|| Check::Blob(b.accept.clone(), b.max_size)),
        Schema::Array(a) => array(set, from, a, ty, depth),
        Schema::Object(_) | Schema::Union(_) => nested(ty),
        Schema::Ref(r) => {
            let t = parse_ref(from, &r.target);
            let (_, target) = set.lookup(&t)?;
            match target {
                Schema::Object(_) | Schema::Record(_) => nested(ty),
                _ if depth > MAX_REF_DEPTH => None,
                // Arrays, strings, integers... defined once and referenced:
                // their rules apply where they are used.
                Schema::Array(_) => of_schema(set, &t.nsid, target, None, depth + 1),
                other => of_schema(set, &t.nsid, other, ty, depth + 1),
            }
        }
        _ => None,
    }
}

/// A nested generated type: call its own `Validate` impl.
fn nested(ty: Option<&Ty>) -> Option<Check> {
    match ty {
        Some(Ty::Named(p)) => Some(Check::Nested(Some(p.clone()))),
        Some(_) => None,
        None => Some(Check::Nested(None)),
    }
}

fn string(s: &StringDef) -> Option<Check> {
    // A closed `enum` is a Rust enum: its values are the only ones.
    if s.enum_values.is_some()
        || (s.min_length, s.max_length, s.min_graphemes, s.max_graphemes)
            == (None, None, None, None)
            && s.const_value.is_none()
    {
        return None;
    }
    Some(Check::Str {
        min_length: s.min_length,
        max_length: s.max_length,
        min_graphemes: s.min_graphemes,
        max_graphemes: s.max_graphemes,
        constant: s.const_value.clone(),
    })
}

fn integer(i: &IntegerDef) -> Option<Check> {
    if (i.minimum, i.maximum, i.const_value) == (None, None, None) && i.enum_values.is_none() {
        return None;
    }
    Some(Check::Int {
        minimum: i.minimum,
        maximum: i.maximum,
        allowed: i.enum_values.clone(),
        constant: i.const_value,
    })
}

fn array(set: &Set, from: &str, a: &ArrayDef, ty: Option<&Ty>, depth: u32) -> Option<Check> {
    let item_ty = match ty {
        Some(Ty::Vec(t)) => Some(&**t),
        _ => None,
    };
    let items = of_schema(set, from, &a.items, item_ty, depth).map(Box::new);
    (a.min_length.is_some() || a.max_length.is_some() || items.is_some()).then_some(Check::Array {
        min: a.min_length,
        max: a.max_length,
        items,
    })
}

type TyKey = (Vec<String>, String);

fn ty_key(p: &TyPath) -> TyKey {
    (p.module.clone(), p.name.clone())
}

/// A check that can find something, given the types known to have rules.
fn live(c: &Check, needs: &BTreeSet<TyKey>) -> bool {
    match c {
        Check::Nested(Some(p)) => needs.contains(&ty_key(p)),
        Check::Nested(None) => true,
        Check::Array { min, max, items } => {
            min.is_some() || max.is_some() || items.as_deref().is_some_and(|i| live(i, needs))
        }
        _ => true,
    }
}

/// Drops the parts of a check that can never find anything.
fn prune(c: Check, needs: &BTreeSet<TyKey>) -> Option<Check> {
    match c {
        Check::Array { min, max, items } => {
            let items = items.and_then(|i| prune(*i, needs)).map(Box::new);
            (min.is_some() || max.is_some() || items.is_some()).then_some(Check::Array {
                min,
                max,
                items,
            })
        }
        c => live(&c, needs).then_some(c),
    }
}

fn ty_needs(ty: &Ty, needs: &BTreeSet<TyKey>) -> bool {
    match ty {
        Ty::Named(p) => needs.contains(&ty_key(p)),
        Ty::Vec(t) => ty_needs(t, needs),
        _ => false,
    }
}

/// Finds the types whose `validate()` can find a violation, then removes
/// field checks that would only call impls that do nothing. `others` are the
/// external documents' modules, lowered only to know which of their types
/// have rules.
pub fn analyze(modules: &mut [Module], others: &[Module]) {
    let needs = types_with_rules(modules, others);
    for m in modules.iter_mut() {
        prune_module(m, &needs);
    }
}

/// The types whose `validate()` can find something: a least fixed point
/// over containment.
fn types_with_rules(modules: &[Module], others: &[Module]) -> BTreeSet<TyKey> {
    let mut needs: BTreeSet<TyKey> = BTreeSet::new();
    loop {
        let mut changed = false;
        for m in modules.iter().chain(others) {
            for item in &m.items {
                let (name, n) = match item {
                    Item::Struct(s) => (
                        &s.name,
                        s.fields
                            .iter()
                            .any(|f| f.check.as_ref().is_some_and(|c| live(c, &needs))),
                    ),
                    Item::Union(u) => (
                        &u.name,
                        u.members.iter().any(|x| needs.contains(&ty_key(&x.ty))),
                    ),
                    Item::Alias { name, ty, .. } => (name, ty_needs(ty, &needs)),
                    _ => continue,
                };
                if n && needs.insert((m.path.clone(), name.clone())) {
                    changed = true;
                }
            }
        }
        if !changed {
            return needs;
        }
    }
}

/// Keeps only the live checks of one module and marks what validates.
fn prune_module(m: &mut Module, needs: &BTreeSet<TyKey>) {
    let has = |n: &str| needs.contains(&(m.path.clone(), n.to_owned()));
    let (params, input, output) = (has("Parameters"), has("Input"), has("Output"));
    for item in &mut m.items {
        match item {
            Item::Struct(s) => {
                for f in &mut s.fields {
                    f.check = f.check.take().and_then(|c| prune(c, needs));
                }
                s.validate = s.fields.iter().any(|f| f.check.is_some());
            }
            Item::Union(u) => {
                for x in &mut u.members {
                    x.validate = needs.contains(&ty_key(&x.ty));
                }
            }
            Item::Endpoint(e) => {
                e.validate_params = e.params && params;
                e.validate_input = e.input == BodyKind::Json && input;
                e.validate_output = e.output == BodyKind::Json && output;
            }
            _ => {}
        }
    }
}
