//! Requests checked against their lexicon before they are sent: query
//! parameters, procedure inputs and records (through the generated
//! `validate_*` methods). Answers are never checked here: a server may be
//! newer than our lexicons.

use atmo_types::object::Record;
use atmo_types::validate::ValidationError;
use atmo_types::xrpc::Endpoint;

use crate::Error;

/// Every violation in `E`'s parameters and input, or `Ok`.
pub(crate) fn request<E: Endpoint>(
    params: &E::Params,
    input: &E::Input,
) -> Result<(), Error<E::Error>> {
    let mut found = Vec::new();
    for r in [E::validate_params(params), E::validate_input(input)] {
        if let Err(ValidationError(v)) = r {
            found.extend(v);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Validation {
        nsid: E::NSID.to_owned(),
        error: ValidationError(found),
    })
}

/// Every violation in a record about to be written, or `Ok`.
pub(crate) fn record<R: Record, E>(record: &R) -> Result<(), Error<E>> {
    record.validate_record().map_err(|error| Error::Validation {
        nsid: R::NSID.to_owned(),
        error,
    })
}
