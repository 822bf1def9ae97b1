//! The log cursor on devnode: reads every log once in order, resumes after a restart, and rewinds when a reorg
//! replaces the block under the cursor.

use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use devnode::rpc::server::lock;
use verity_keeper::chain::cursor::{LogReader, StreamConfig};
use verity_keeper::failpoint::Failpoints;

use crate::support::env;

/// `PUSH1 0 CALLDATALOAD PUSH1 0 PUSH1 0 LOG1 STOP`: logs the first calldata word as its topic.
const LOGGER: [u8; 9] = [0x60, 0x00, 0x35, 0x60, 0x00, 0x60, 0x00, 0xa1, 0x00];
const LOGGER_AT: Address = Address::with_last_byte(0x55);

fn word(i: u8) -> Bytes {
    Bytes::from(B256::repeat_byte(i).to_vec())
}

fn stream() -> StreamConfig {
    StreamConfig {
        stream: "logger".into(),
        addresses: vec![LOGGER_AT],
        start_block: 0,
        lookback: 8,
        max_range: 1_000,
        confirmations: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_each_log_once_and_rewinds_over_a_reorg() {
    let env = env().await;
    {
        let shared = env.node.chain();
        lock(&shared).set_code(LOGGER_AT, Bytes::from_static(&LOGGER));
    }
    let m = env.manager(Failpoints::none()).await;
    for i in 1..=3u8 {
        m.submit(&format!("log{i}"), LOGGER_AT, word(i), U256::ZERO)
            .await
            .unwrap();
    }
    assert!(m.drain(50, Duration::from_millis(10)).await.unwrap());

    let reader = LogReader::new(env.store().await, env.provider.clone(), stream());
    let batch = reader.poll().await.unwrap().unwrap();
    assert!(!batch.rewound);
    let topics: Vec<B256> = batch.logs.iter().map(|l| *l.topic0().unwrap()).collect();
    assert_eq!(topics, (1..=3u8).map(B256::repeat_byte).collect::<Vec<_>>());
    reader.commit(&batch).await.unwrap();
    // At the head: nothing new; a restarted reader resumes from the stored cursor.
    assert!(reader.poll().await.unwrap().is_none());
    let restarted = LogReader::new(env.store().await, env.provider.clone(), stream());
    assert!(restarted.poll().await.unwrap().is_none());

    // A reorg replaces the last block: the cursor's hash no longer matches and the reader rewinds.
    let head = env.provider.get_block_number().await.unwrap();
    {
        let shared = env.node.chain();
        lock(&shared).reorg(1, Vec::new()).unwrap();
    }
    let again = restarted.poll().await.unwrap().unwrap();
    assert!(again.rewound);
    assert!(again.from <= head);
    assert_ne!(again.to.hash, batch.to.hash);
    // The re-read covers the re-included transaction's log in its new block.
    assert!(again.logs.iter().any(
        |l| *l.topic0().unwrap() == B256::repeat_byte(3) && l.block_hash == Some(again.to.hash)
    ));
    restarted.commit(&again).await.unwrap();
    assert!(restarted.poll().await.unwrap().is_none());
}
