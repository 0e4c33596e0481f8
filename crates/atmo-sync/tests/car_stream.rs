//! The async CAR reader gives the slice reader's blocks and refusals
//! (feature `async`; `cargo test -p atmo-sync --features async`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "async")]

use atmo_sync::car::{self, CarStream, OwnedBlock};
use atmo_sync::{Car, CarError, CarLimits, Cid, Value};

fn sample() -> (Vec<u8>, Vec<Vec<u8>>) {
    let blocks: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            Value::from_json(&serde_json::json!({"n": i, "pad": "x".repeat(i * 7)}))
                .unwrap()
                .to_cbor()
        })
        .collect();
    let root = Cid::for_dag_cbor(&blocks[0]);
    (
        car::write_car(&[root], blocks.iter().map(Vec::as_slice)),
        blocks,
    )
}

async fn read_all(
    bytes: &[u8],
    limits: CarLimits,
) -> Result<(Vec<Cid>, Vec<OwnedBlock>), CarError> {
    let mut s = CarStream::new(bytes, limits).await?;
    let roots = s.roots().to_vec();
    let mut out = Vec::new();
    while let Some(b) = s.next_block().await? {
        out.push(b);
    }
    Ok((roots, out))
}

#[tokio::test]
async fn stream_matches_slice_reader() {
    let (file, blocks) = sample();
    let (roots, streamed) = read_all(&file, CarLimits::default()).await.unwrap();
    let car = Car::from_bytes(&file).unwrap();
    assert_eq!(roots, car.roots);
    assert_eq!(streamed.len(), blocks.len());
    for (b, data) in streamed.iter().zip(&blocks) {
        assert_eq!(&b.data, data);
        assert_eq!(car.get(&b.cid), Some(data.as_slice()));
    }
}

#[tokio::test]
async fn stream_refusals() {
    let (file, _) = sample();
    let (_, blocks) = read_all(&file, CarLimits::default()).await.unwrap();
    // A flipped byte in a block names that block.
    let target = &blocks[3];
    let mut bad = file.clone();
    bad[target.offset + 1 + 36 + 1] ^= 1;
    match read_all(&bad, CarLimits::default()).await {
        Err(CarError::HashMismatch { offset, cid }) => {
            assert_eq!((offset, cid), (target.offset, target.cid))
        }
        other => panic!("{other:?}"),
    }
    // Cut short inside a section, and inside a varint.
    assert!(matches!(
        read_all(&file[..file.len() - 2], CarLimits::default()).await,
        Err(CarError::Truncated { .. })
    ));
    let mut cut_varint = file[..target.offset].to_vec();
    cut_varint.push(0x80);
    assert!(matches!(
        read_all(&cut_varint, CarLimits::default()).await,
        Err(CarError::Varint(_))
    ));
    // Caps: blocks and the whole file.
    let small = CarLimits {
        max_file: 1 << 30,
        max_block: 16,
    };
    assert!(matches!(
        read_all(&file, small).await,
        Err(CarError::BlockTooLarge { max: 16, .. })
    ));
    let short = CarLimits {
        max_file: 500,
        max_block: 1 << 20,
    };
    assert!(matches!(
        read_all(&file, short).await,
        Err(CarError::FileTooLarge { max: 500, .. })
    ));
    assert!(matches!(
        read_all(&[], CarLimits::default()).await,
        Err(CarError::Varint(0))
    ));
}
