//! lexgen (in progress)
