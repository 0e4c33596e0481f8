//! Cycle breaking: a struct field whose type (unboxed, not in a `Vec`) is a
//! struct from which the field's own struct is reachable through such fields
//! would make the struct infinitely large; such fields, and only those, are
//! boxed.

use std::collections::{BTreeMap, BTreeSet};

use super::ir::*;

type Key = (Vec<String>, String);

/// Aliases are followed this deep at most when finding a field's struct.
const MAX_ALIAS_DEPTH: usize = 8;

/// The containment graph of the local structs.
struct Graph {
    structs: BTreeSet<Key>,
    aliases: BTreeMap<Key, Key>,
    edges: BTreeMap<Key, BTreeSet<Key>>,
}

impl Graph {
    fn new(modules: &[Module]) -> Graph {
        let mut g = Graph {
            structs: BTreeSet::new(),
            aliases: BTreeMap::new(),
            edges: BTreeMap::new(),
        };
        for m in modules {
            for item in &m.items {
                match item {
                    Item::Struct(s) => {
                        g.structs.insert((m.path.clone(), s.name.clone()));
                    }
                    Item::Alias {
                        name,
                        ty: Ty::Named(p),
                        ..
                    } if p.krate.is_none() => {
                        g.aliases.insert(
                            (m.path.clone(), name.clone()),
                            (p.module.clone(), p.name.clone()),
                        );
                    }
                    _ => {}
                }
            }
        }
        for m in modules {
            for s in m.items.iter().filter_map(struct_of) {
                let from = (m.path.clone(), s.name.clone());
                for f in &s.fields {
                    if let Some(to) = g.field_target(f) {
                        g.edges.entry(from.clone()).or_default().insert(to);
                    }
                }
            }
        }
        g
    }

    /// The local struct a field contains directly (through aliases).
    fn field_target(&self, f: &Field) -> Option<Key> {
        let Ty::Named(p) = &f.ty else {
            return None;
        };
        if p.krate.is_some() {
            return None;
        }
        let mut k = (p.module.clone(), p.name.clone());
        for _ in 0..MAX_ALIAS_DEPTH {
            match self.aliases.get(&k) {
                Some(next) => k = next.clone(),
                None => break,
            }
        }
        self.structs.contains(&k).then_some(k)
    }

    fn reaches(&self, from: &Key, to: &Key) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(k) = stack.pop() {
            if &k == to {
                return true;
            }
            if seen.insert(k.clone()) {
                if let Some(next) = self.edges.get(&k) {
                    stack.extend(next.iter().cloned());
                }
            }
        }
        false
    }
}

fn struct_of(item: &Item) -> Option<&Struct> {
    match item {
        Item::Struct(s) => Some(s),
        _ => None,
    }
}

/// Boxes the struct fields that lie on a containment cycle.
pub fn break_cycles(modules: &mut [Module]) {
    let graph = Graph::new(modules);
    for m in modules.iter_mut() {
        let path = m.path.clone();
        for item in &mut m.items {
            let Item::Struct(s) = item else {
                continue;
            };
            let me = (path.clone(), s.name.clone());
            for f in &mut s.fields {
                if graph
                    .field_target(f)
                    .is_some_and(|to| graph.reaches(&to, &me))
                {
                    f.boxed = true;
                }
            }
        }
    }
}
