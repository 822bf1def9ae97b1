//! Transaction execution boundary: the chain hands one transaction to [`execute`] (or
//! [`Engine::execute`]), which runs it on revm (EVM bytecode, gas, precompiles) with Stylus
//! programs executed by wasmi (see [`crate::stylus`]) and the Arbitrum precompiles of
//! [`crate::precompiles`].
//!
//! The signature of [`execute`] is the contract between the chain (`chain`, `rpc`) and the engine
//! (`stylus`): keep it stable.

use crate::{
    precompiles::ArbPrecompiles,
    stylus::{exec, is_stylus_component, is_stylus_program, ProgramCache},
};
use revm::{
    context::{BlockEnv, CfgEnv, ContextError, ContextTr, Evm, FrameStack, JournalTr, TxEnv},
    context_interface::result::{EVMError, ResultAndState},
    database::{CacheDB, EmptyDB},
    handler::{
        instructions::EthInstructions, EthFrame, EvmTr, FrameData, FrameInitOrResult, FrameResult,
        FrameTr, Handler, MainnetHandler,
    },
    interpreter::{
        interpreter::EthInterpreter, interpreter_action::FrameInit, FrameInput, InstructionResult,
        InterpreterAction,
    },
    primitives::{Address, HashMap},
    Context, MainContext,
};
use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
};

/// The chain's world state: an in-memory revm database.
pub type StateDb = CacheDB<EmptyDB>;

/// An execution error: the transaction is invalid (never included) or the database failed.
pub type ExecError = EVMError<Infallible>;

/// Native stack that must remain before a Stylus frame runs without growing the stack.
const STACK_RED_ZONE: usize = 512 * 1024;
/// Size of each heap-allocated stack segment for nested Stylus frames.
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

/// The revm context the engine runs transactions in.
pub type EvmContext<'db> = Context<BlockEnv, TxEnv, CfgEnv, &'db mut StateDb>;

/// A database error raised inside a frame (the in-memory database never fails).
pub(crate) type FrameError = ContextError<Infallible>;

type Instructions<'db> = EthInstructions<EthInterpreter, EvmContext<'db>>;
type InnerEvm<'db> =
    Evm<EvmContext<'db>, (), Instructions<'db>, ArbPrecompiles, EthFrame<EthInterpreter>>;

/// The execution engine: revm plus the Stylus runtime, with a compiled-program cache shared by
/// every transaction it executes. Cloning is cheap and shares the cache.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    programs: Arc<ProgramCache>,
}

impl Engine {
    /// Creates an engine with an empty program cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compiled-program cache.
    pub fn programs(&self) -> &Arc<ProgramCache> {
        &self.programs
    }

    /// Executes `tx` in `block` against `db` and returns the result with the state changes,
    /// uncommitted.
    ///
    /// EIP-3541 is enforced for every code except Stylus programs (`EF F0 00…`), whatever
    /// `cfg.disable_eip3541` says.
    ///
    /// # Errors
    /// [`ExecError`] when the transaction is invalid (nonce, balance, gas limit, …).
    ///
    /// ```no_run
    /// use devnode::evm::{Engine, StateDb};
    /// use revm::context::{BlockEnv, CfgEnv, TxEnv};
    ///
    /// let engine = Engine::new();
    /// let mut db = StateDb::default();
    /// let result = engine.execute(&mut db, BlockEnv::default(), CfgEnv::default(), TxEnv::default());
    /// ```
    pub fn execute(
        &self,
        db: &mut StateDb,
        block: BlockEnv,
        mut cfg: CfgEnv,
        tx: TxEnv,
    ) -> Result<ResultAndState, ExecError> {
        cfg.disable_eip3541 = true;
        let spec = cfg.spec;
        let mut ctx = Context::mainnet()
            .with_db(db)
            .with_block(block)
            .with_cfg(cfg);
        ctx.tx = tx;
        let mut evm = StylusEvm {
            inner: Evm::new(
                ctx,
                EthInstructions::new_mainnet_with_spec(spec),
                ArbPrecompiles::new(spec, self.programs.clone()),
            ),
            programs: self.programs.clone(),
            pages_open: 0,
            pages_ever: 0,
            active: HashMap::default(),
        };
        let result =
            MainnetHandler::<_, ExecError, EthFrame<EthInterpreter>>::default().run(&mut evm);
        let state = evm.inner.ctx.journal_mut().finalize();
        Ok(ResultAndState::new(result?, state))
    }
}

fn default_engine() -> &'static Engine {
    // A process-wide compile cache for callers of the free function; it holds no configuration.
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::new)
}

/// Executes `tx` in `block` against `db` and returns the result with the state changes, uncommitted.
///
/// The caller decides whether to commit the returned state (a mined transaction) or drop it
/// (`eth_call`). Uses a process-wide [`Engine`]; hold your own [`Engine`] to control the cache.
///
/// # Errors
/// [`ExecError`] when the transaction is invalid.
pub fn execute(
    db: &mut StateDb,
    block: BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
) -> Result<ResultAndState, ExecError> {
    default_engine().execute(db, block, cfg, tx)
}

/// revm's EVM with Stylus frames: a call frame whose code is a Stylus program runs in wasmi.
pub(crate) struct StylusEvm<'db> {
    pub(crate) inner: InnerEvm<'db>,
    pub(crate) programs: Arc<ProgramCache>,
    /// WASM pages open in this transaction (Nitro's `stylusPagesOpen`).
    pub(crate) pages_open: u16,
    /// The most WASM pages ever open at once in this transaction.
    pub(crate) pages_ever: u16,
    /// Stylus programs currently executing, by acting address (for `msg_reentrant`).
    pub(crate) active: HashMap<Address, u32>,
}

impl StylusEvm<'_> {
    /// Runs revm's frame loop from `init` on the current frame stack until the first frame
    /// returns (the loop `Handler::run_exec_loop` runs for a transaction).
    pub(crate) fn exec_loop(&mut self, init: FrameInit) -> Result<FrameResult, FrameError> {
        if let revm::handler::ItemOrResult::Result(result) = self.frame_init(init)? {
            return Ok(result);
        }
        loop {
            let result = match self.frame_run()? {
                revm::handler::ItemOrResult::Item(init) => match self.frame_init(init)? {
                    revm::handler::ItemOrResult::Item(_) => continue,
                    revm::handler::ItemOrResult::Result(result) => result,
                },
                revm::handler::ItemOrResult::Result(result) => result,
            };
            if let Some(result) = self.frame_return_result(result)? {
                return Ok(result);
            }
        }
    }

    /// Runs a call or create made by the Stylus program on top of the frame stack, on a fresh
    /// frame stack, and returns its result. State changes are journaled under the program's
    /// frame, so they roll back if the program reverts.
    pub(crate) fn run_nested(&mut self, input: FrameInput) -> Result<FrameResult, FrameError> {
        let init = {
            let frame = self.inner.frame_stack.get();
            match frame.process_next_action::<_, FrameError>(
                &mut self.inner.ctx,
                InterpreterAction::NewFrame(input),
            )? {
                revm::handler::ItemOrResult::Item(init) => init,
                revm::handler::ItemOrResult::Result(result) => return Ok(result),
            }
        };
        let saved = std::mem::take(&mut self.inner.frame_stack);
        let result = self.exec_loop(init);
        self.inner.frame_stack = saved;
        self.inner
            .frame_stack
            .get()
            .interpreter
            .memory
            .free_child_context();
        result
    }
}

impl<'db> EvmTr for StylusEvm<'db> {
    type Context = EvmContext<'db>;
    type Instructions = Instructions<'db>;
    type Precompiles = ArbPrecompiles;
    type Frame = EthFrame<EthInterpreter>;

    fn all(
        &self,
    ) -> (
        &Self::Context,
        &Self::Instructions,
        &Self::Precompiles,
        &FrameStack<Self::Frame>,
    ) {
        self.inner.all()
    }

    fn all_mut(
        &mut self,
    ) -> (
        &mut Self::Context,
        &mut Self::Instructions,
        &mut Self::Precompiles,
        &mut FrameStack<Self::Frame>,
    ) {
        self.inner.all_mut()
    }

    fn frame_init(
        &mut self,
        frame_input: <Self::Frame as FrameTr>::FrameInit,
    ) -> Result<revm::handler::evm::FrameInitResult<'_, Self::Frame>, FrameError> {
        self.inner.frame_init(frame_input)
    }

    fn frame_run(&mut self) -> Result<FrameInitOrResult<Self::Frame>, FrameError> {
        let frame = self.inner.frame_stack.get();
        let stylus = matches!(frame.input, FrameInput::Call(_))
            && is_stylus_program(frame.interpreter.bytecode.original_byte_slice());
        let action = if stylus {
            // Program frames nest on the native stack (calls out of a program recurse into
            // revm); grow it on the heap when it runs low so deep call chains cannot overflow.
            InterpreterAction::Return(stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
                exec::run_program(self)
            })?)
        } else {
            let frame = self.inner.frame_stack.get();
            let instructions = &self.inner.instruction;
            let mut action = frame.interpreter.run_plain(
                instructions.instruction_table(),
                instructions.gas_table(),
                &mut self.inner.ctx,
            );
            // EIP-3541 is disabled in the config so Stylus code can be deployed; re-impose it
            // for every other code starting with 0xEF.
            if let (FrameData::Create(_), InterpreterAction::Return(result)) =
                (&frame.data, &mut action)
            {
                if result.result.is_ok()
                    && result.output.first() == Some(&0xEF)
                    && !is_stylus_component(&result.output)
                {
                    result.result = InstructionResult::CreateContractStartingWithEF;
                }
            }
            action
        };
        let frame = self.inner.frame_stack.get();
        frame
            .process_next_action(&mut self.inner.ctx, action)
            .inspect(|i| {
                if i.is_result() {
                    frame.set_finished(true);
                }
            })
    }

    fn frame_return_result(
        &mut self,
        result: <Self::Frame as FrameTr>::FrameResult,
    ) -> Result<Option<<Self::Frame as FrameTr>::FrameResult>, FrameError> {
        self.inner.frame_return_result(result)
    }
}
