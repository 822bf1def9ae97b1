;; Test program for devnode's engine tests: calldata = op byte ‖ arguments. Every op exercises one
;; or more vm_hooks imports; results are returned with write_result. Integers are little-endian.
(module
  (import "vm_hooks" "read_args" (func $read_args (param i32)))
  (import "vm_hooks" "write_result" (func $write_result (param i32 i32)))
  (import "vm_hooks" "exit_early" (func $exit_early (param i32)))
  (import "vm_hooks" "storage_load_bytes32" (func $sload (param i32 i32)))
  (import "vm_hooks" "storage_cache_bytes32" (func $scache (param i32 i32)))
  (import "vm_hooks" "storage_flush_cache" (func $sflush (param i32)))
  (import "vm_hooks" "transient_load_bytes32" (func $tload (param i32 i32)))
  (import "vm_hooks" "transient_store_bytes32" (func $tstore (param i32 i32)))
  (import "vm_hooks" "call_contract" (func $call (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "vm_hooks" "delegate_call_contract" (func $dcall (param i32 i32 i32 i64 i32) (result i32)))
  (import "vm_hooks" "static_call_contract" (func $scall (param i32 i32 i32 i64 i32) (result i32)))
  (import "vm_hooks" "create1" (func $create1 (param i32 i32 i32 i32 i32)))
  (import "vm_hooks" "create2" (func $create2 (param i32 i32 i32 i32 i32 i32)))
  (import "vm_hooks" "read_return_data" (func $read_return_data (param i32 i32 i32) (result i32)))
  (import "vm_hooks" "return_data_size" (func $return_data_size (result i32)))
  (import "vm_hooks" "emit_log" (func $emit_log (param i32 i32 i32)))
  (import "vm_hooks" "account_balance" (func $account_balance (param i32 i32)))
  (import "vm_hooks" "account_code" (func $account_code (param i32 i32 i32 i32) (result i32)))
  (import "vm_hooks" "account_code_size" (func $account_code_size (param i32) (result i32)))
  (import "vm_hooks" "account_codehash" (func $account_codehash (param i32 i32)))
  (import "vm_hooks" "block_basefee" (func $block_basefee (param i32)))
  (import "vm_hooks" "block_coinbase" (func $block_coinbase (param i32)))
  (import "vm_hooks" "block_gas_limit" (func $block_gas_limit (result i64)))
  (import "vm_hooks" "block_number" (func $block_number (result i64)))
  (import "vm_hooks" "block_timestamp" (func $block_timestamp (result i64)))
  (import "vm_hooks" "chainid" (func $chainid (result i64)))
  (import "vm_hooks" "contract_address" (func $contract_address (param i32)))
  (import "vm_hooks" "evm_gas_left" (func $evm_gas_left (result i64)))
  (import "vm_hooks" "evm_ink_left" (func $evm_ink_left (result i64)))
  (import "vm_hooks" "math_div" (func $math_div (param i32 i32)))
  (import "vm_hooks" "math_mod" (func $math_mod (param i32 i32)))
  (import "vm_hooks" "math_pow" (func $math_pow (param i32 i32)))
  (import "vm_hooks" "math_add_mod" (func $math_add_mod (param i32 i32 i32)))
  (import "vm_hooks" "math_mul_mod" (func $math_mul_mod (param i32 i32 i32)))
  (import "vm_hooks" "msg_reentrant" (func $msg_reentrant (result i32)))
  (import "vm_hooks" "msg_sender" (func $msg_sender (param i32)))
  (import "vm_hooks" "msg_value" (func $msg_value (param i32)))
  (import "vm_hooks" "native_keccak256" (func $keccak (param i32 i32 i32)))
  (import "vm_hooks" "tx_gas_price" (func $tx_gas_price (param i32)))
  (import "vm_hooks" "tx_ink_price" (func $tx_ink_price (result i32)))
  (import "vm_hooks" "tx_origin" (func $tx_origin (param i32)))
  (import "vm_hooks" "pay_for_memory_grow" (func $pay_for_memory_grow (param i32)))
  (memory (export "memory") 1)

  (global $OUT i32 (i32.const 0x2000))
  (global $RET i32 (i32.const 0x4000))

  ;; Call at args[base]: kind(1) ‖ target(20) ‖ value(32) ‖ gas(8, LE) ‖ data.
  ;; Result: status(4) ‖ return_data_size(4) ‖ return data.
  (func $do_call (param $base i32) (param $len i32)
    (local $status i32) (local $size i32) (local $n i32) (local $dlen i32) (local $kind i32)
    (local.set $kind (i32.load8_u (local.get $base)))
    (local.set $dlen (i32.sub (local.get $len) (i32.add (local.get $base) (i32.const 61))))
    (if (i32.eqz (local.get $kind))
      (then (local.set $status (call $call
        (i32.add (local.get $base) (i32.const 1))
        (i32.add (local.get $base) (i32.const 61)) (local.get $dlen)
        (i32.add (local.get $base) (i32.const 21))
        (i64.load (i32.add (local.get $base) (i32.const 53)))
        (global.get $OUT)))))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (local.set $status (call $dcall
        (i32.add (local.get $base) (i32.const 1))
        (i32.add (local.get $base) (i32.const 61)) (local.get $dlen)
        (i64.load (i32.add (local.get $base) (i32.const 53)))
        (global.get $OUT)))))
    (if (i32.eq (local.get $kind) (i32.const 2))
      (then (local.set $status (call $scall
        (i32.add (local.get $base) (i32.const 1))
        (i32.add (local.get $base) (i32.const 61)) (local.get $dlen)
        (i64.load (i32.add (local.get $base) (i32.const 53)))
        (global.get $OUT)))))
    (local.set $size (call $return_data_size))
    ;; ret_len written by the call must equal return_data_size
    (if (i32.ne (local.get $size) (i32.load (global.get $OUT))) (then unreachable))
    (local.set $n (call $read_return_data (i32.add (global.get $RET) (i32.const 8)) (i32.const 0) (local.get $size)))
    (i32.store (global.get $RET) (local.get $status))
    (i32.store (i32.add (global.get $RET) (i32.const 4)) (local.get $size))
    (call $write_result (global.get $RET) (i32.add (i32.const 8) (local.get $n))))

  (func (export "user_entrypoint") (param $len i32) (result i32)
    (local $op i32) (local $i i32) (local $n i32)
    (call $read_args (i32.const 0))
    (local.set $op (i32.load8_u (i32.const 0)))
    ;; 0x01 load(key) -> value
    (if (i32.eq (local.get $op) (i32.const 0x01)) (then
      (call $sload (i32.const 1) (global.get $OUT))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x02 store(key, value) + flush
    (if (i32.eq (local.get $op) (i32.const 0x02)) (then
      (call $scache (i32.const 1) (i32.const 33))
      (call $sflush (i32.const 1))
      (return (i32.const 0))))
    ;; 0x03 store(key, value) without flush: dropped
    (if (i32.eq (local.get $op) (i32.const 0x03)) (then
      (call $scache (i32.const 1) (i32.const 33))
      (return (i32.const 0))))
    ;; 0x04 store(key, value), load(key) from the cache, flush -> value
    (if (i32.eq (local.get $op) (i32.const 0x04)) (then
      (call $scache (i32.const 1) (i32.const 33))
      (call $sload (i32.const 1) (global.get $OUT))
      (call $sflush (i32.const 0))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x05 tstore(key, value), tload(key) -> value
    (if (i32.eq (local.get $op) (i32.const 0x05)) (then
      (call $tstore (i32.const 1) (i32.const 33))
      (call $tload (i32.const 1) (global.get $OUT))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x06 tload(key) -> value
    (if (i32.eq (local.get $op) (i32.const 0x06)) (then
      (call $tload (i32.const 1) (global.get $OUT))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x07 emit_log(topics = args[1], data = args[2..])
    (if (i32.eq (local.get $op) (i32.const 0x07)) (then
      (call $emit_log (i32.const 2) (i32.sub (local.get $len) (i32.const 2)) (i32.load8_u (i32.const 1)))
      (return (i32.const 0))))
    ;; 0x08 sender(20) ‖ value(32) ‖ origin(20) ‖ contract(20) ‖ reentrant(1)
    (if (i32.eq (local.get $op) (i32.const 0x08)) (then
      (call $msg_sender (global.get $OUT))
      (call $msg_value (i32.add (global.get $OUT) (i32.const 20)))
      (call $tx_origin (i32.add (global.get $OUT) (i32.const 52)))
      (call $contract_address (i32.add (global.get $OUT) (i32.const 72)))
      (i32.store8 (i32.add (global.get $OUT) (i32.const 92)) (call $msg_reentrant))
      (call $write_result (global.get $OUT) (i32.const 93))
      (return (i32.const 0))))
    ;; 0x09 basefee(32) ‖ coinbase(20) ‖ gas_limit(8) ‖ number(8) ‖ timestamp(8) ‖ chainid(8) ‖ gas_price(32) ‖ ink_price(4)
    (if (i32.eq (local.get $op) (i32.const 0x09)) (then
      (call $block_basefee (global.get $OUT))
      (call $block_coinbase (i32.add (global.get $OUT) (i32.const 32)))
      (i64.store (i32.add (global.get $OUT) (i32.const 52)) (call $block_gas_limit))
      (i64.store (i32.add (global.get $OUT) (i32.const 60)) (call $block_number))
      (i64.store (i32.add (global.get $OUT) (i32.const 68)) (call $block_timestamp))
      (i64.store (i32.add (global.get $OUT) (i32.const 76)) (call $chainid))
      (call $tx_gas_price (i32.add (global.get $OUT) (i32.const 84)))
      (i32.store (i32.add (global.get $OUT) (i32.const 116)) (call $tx_ink_price))
      (call $write_result (global.get $OUT) (i32.const 120))
      (return (i32.const 0))))
    ;; 0x0A account(address) -> balance(32) ‖ codehash(32) ‖ code_size(4) ‖ copied(4) ‖ code[0..8]
    (if (i32.eq (local.get $op) (i32.const 0x0A)) (then
      (call $account_balance (i32.const 1) (global.get $OUT))
      (call $account_codehash (i32.const 1) (i32.add (global.get $OUT) (i32.const 32)))
      (i32.store (i32.add (global.get $OUT) (i32.const 64)) (call $account_code_size (i32.const 1)))
      (i32.store (i32.add (global.get $OUT) (i32.const 68))
        (call $account_code (i32.const 1) (i32.const 0) (i32.const 8) (i32.add (global.get $OUT) (i32.const 72))))
      (call $write_result (global.get $OUT) (i32.const 80))
      (return (i32.const 0))))
    ;; 0x0B gas(8) ‖ ink(8) before and after a loop of 1000 iterations
    (if (i32.eq (local.get $op) (i32.const 0x0B)) (then
      (i64.store (global.get $OUT) (call $evm_gas_left))
      (i64.store (i32.add (global.get $OUT) (i32.const 8)) (call $evm_ink_left))
      (local.set $i (i32.const 1000))
      (loop $l
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br_if $l (local.get $i)))
      (i64.store (i32.add (global.get $OUT) (i32.const 16)) (call $evm_gas_left))
      (i64.store (i32.add (global.get $OUT) (i32.const 24)) (call $evm_ink_left))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x0C call
    (if (i32.eq (local.get $op) (i32.const 0x0C)) (then
      (call $do_call (i32.const 1) (local.get $len))
      (return (i32.const 0))))
    ;; 0x0D create1(value(32) ‖ initcode) -> address(20) ‖ revert_data_len(4)
    (if (i32.eq (local.get $op) (i32.const 0x0D)) (then
      (call $create1 (i32.const 33) (i32.sub (local.get $len) (i32.const 33)) (i32.const 1)
        (global.get $OUT) (i32.add (global.get $OUT) (i32.const 20)))
      (call $write_result (global.get $OUT) (i32.const 24))
      (return (i32.const 0))))
    ;; 0x0E create2(value(32) ‖ salt(32) ‖ initcode) -> address(20) ‖ revert_data_len(4)
    (if (i32.eq (local.get $op) (i32.const 0x0E)) (then
      (call $create2 (i32.const 65) (i32.sub (local.get $len) (i32.const 65)) (i32.const 1) (i32.const 33)
        (global.get $OUT) (i32.add (global.get $OUT) (i32.const 20)))
      (call $write_result (global.get $OUT) (i32.const 24))
      (return (i32.const 0))))
    ;; 0x0F keccak(data)
    (if (i32.eq (local.get $op) (i32.const 0x0F)) (then
      (call $keccak (i32.const 1) (i32.sub (local.get $len) (i32.const 1)) (global.get $OUT))
      (call $write_result (global.get $OUT) (i32.const 32))
      (return (i32.const 0))))
    ;; 0x10 revert with data
    (if (i32.eq (local.get $op) (i32.const 0x10)) (then
      (call $write_result (i32.const 1) (i32.sub (local.get $len) (i32.const 1)))
      (return (i32.const 1))))
    ;; 0x11 exit_early(status = args[1]) with data args[2..]
    (if (i32.eq (local.get $op) (i32.const 0x11)) (then
      (call $write_result (i32.const 2) (i32.sub (local.get $len) (i32.const 2)))
      (call $exit_early (i32.load8_u (i32.const 1)))
      unreachable))
    ;; 0x12 spin forever
    (if (i32.eq (local.get $op) (i32.const 0x12)) (then
      (loop $forever (br $forever))))
    ;; 0x13 grow memory by args[1] pages -> gas before(8) ‖ gas after(8) ‖ pages(4)
    (if (i32.eq (local.get $op) (i32.const 0x13)) (then
      (call $pay_for_memory_grow (i32.const 0))
      (i64.store (global.get $OUT) (call $evm_gas_left))
      (drop (memory.grow (i32.load8_u (i32.const 1))))
      (i64.store (i32.add (global.get $OUT) (i32.const 8)) (call $evm_gas_left))
      (i32.store (i32.add (global.get $OUT) (i32.const 16)) (memory.size))
      (call $write_result (global.get $OUT) (i32.const 20))
      (return (i32.const 0))))
    ;; 0x14 math(a, b, c) -> a/b ‖ a%b ‖ a^b ‖ (a+b)%c ‖ (a*b)%c
    (if (i32.eq (local.get $op) (i32.const 0x14)) (then
      (memory.copy (global.get $OUT) (i32.const 1) (i32.const 32))
      (memory.copy (i32.add (global.get $OUT) (i32.const 32)) (i32.const 1) (i32.const 32))
      (memory.copy (i32.add (global.get $OUT) (i32.const 64)) (i32.const 1) (i32.const 32))
      (memory.copy (i32.add (global.get $OUT) (i32.const 96)) (i32.const 1) (i32.const 32))
      (memory.copy (i32.add (global.get $OUT) (i32.const 128)) (i32.const 1) (i32.const 32))
      (call $math_div (global.get $OUT) (i32.const 33))
      (call $math_mod (i32.add (global.get $OUT) (i32.const 32)) (i32.const 33))
      (call $math_pow (i32.add (global.get $OUT) (i32.const 64)) (i32.const 33))
      (call $math_add_mod (i32.add (global.get $OUT) (i32.const 96)) (i32.const 33) (i32.const 65))
      (call $math_mul_mod (i32.add (global.get $OUT) (i32.const 128)) (i32.const 33) (i32.const 65))
      (call $write_result (global.get $OUT) (i32.const 160))
      (return (i32.const 0))))
    ;; 0x15 trap
    (if (i32.eq (local.get $op) (i32.const 0x15)) (then unreachable))
    ;; 0x16 store(key, value) + flush, then call at args[65]
    (if (i32.eq (local.get $op) (i32.const 0x16)) (then
      (call $scache (i32.const 1) (i32.const 33))
      (call $sflush (i32.const 1))
      (call $do_call (i32.const 65) (local.get $len))
      (return (i32.const 0))))
    ;; 0x17 call, then revert with its result
    (if (i32.eq (local.get $op) (i32.const 0x17)) (then
      (call $do_call (i32.const 1) (local.get $len))
      (return (i32.const 1))))
    ;; 0x18 call, then return return_data[2..5]
    (if (i32.eq (local.get $op) (i32.const 0x18)) (then
      (call $do_call (i32.const 1) (local.get $len))
      (local.set $n (call $read_return_data (global.get $RET) (i32.const 2) (i32.const 3)))
      (call $write_result (global.get $RET) (local.get $n))
      (return (i32.const 0))))
    ;; 0x19 write to memory past the end (trap)
    (if (i32.eq (local.get $op) (i32.const 0x19)) (then
      (call $msg_sender (i32.const 0xFFFFFFF0))
      (return (i32.const 0))))
    ;; default: echo args
    (call $write_result (i32.const 0) (local.get $len))
    (i32.const 0)))
