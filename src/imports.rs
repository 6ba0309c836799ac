//! The host functions a module imports, resolved once, when the module is compiled.
//!
//! hookr defines its imports (the ABI's, WASI's, `env.abort`) into [`Definitions`],
//! which keeps, for each import of the module in order, what makes that host function.
//! Each runtime made from the module then creates them in its store and instantiates
//! with them: no lookup by name, and no linker, in any runtime.

use alloc::boxed::Box;
use alloc::vec::Vec;

use wasmi::{Caller, Extern, Func, FuncType, Instance, IntoFunc, Store, Val};

use crate::error::Error;
use crate::runtime::CtxBox;

/// Creates one host function in a store.
type MakeFunc = Box<dyn Fn(&mut Store<CtxBox>) -> Func + Send + Sync>;

/// The host functions of a module's imports, in import order.
pub(crate) struct ModuleImports {
    makers: Vec<MakeFunc>,
}

/// How many imports [`ModuleImports::instantiate`] gathers on the stack; a module with
/// more (a WASI program may import dozens) gathers them in a vector.
const ON_STACK: usize = 16;

impl ModuleImports {
    /// Instantiates `module`, compiled with these imports, in `store`: creates its host
    /// functions there and runs its start function, if it has one.
    pub(crate) fn instantiate(
        &self,
        store: &mut Store<CtxBox>,
        module: &wasmi::Module,
    ) -> Result<Instance, wasmi::Error> {
        if self.makers.len() <= ON_STACK {
            let mut externs = heapless::Vec::<Extern, ON_STACK>::new();
            for make in &self.makers {
                // Within the capacity: there are at most `ON_STACK` makers.
                let _ = externs.push(Extern::Func(make(store)));
            }
            Instance::new(store, module, &externs)
        } else {
            let externs: Vec<Extern> = self.makers.iter().map(|make| Extern::Func(make(store))).collect();
            Instance::new(store, module, &externs)
        }
    }
}

/// Collects, from everything hookr defines, the host functions one module imports.
pub(crate) struct Definitions<'m> {
    /// The module's imports, in order: their names, read once, and what makes each,
    /// once defined.
    imports: Vec<Import<'m>>,
}

/// One import of the module being defined.
struct Import<'m> {
    module: &'m str,
    name: &'m str,
    maker: Option<MakeFunc>,
}

impl<'m> Definitions<'m> {
    /// Nothing defined yet for the imports of `module`.
    pub(crate) fn new(module: &'m wasmi::Module) -> Self {
        let imports = module.imports().map(|i| Import { module: i.module(), name: i.name(), maker: None }).collect();
        Definitions { imports }
    }

    /// Defines the host function `module.name` as `f`, for each import of that name.
    pub(crate) fn func<Params, Results, F>(&mut self, module: &str, name: &str, f: F)
    where
        F: IntoFunc<CtxBox, Params, Results> + Copy,
    {
        self.define(module, name, || Box::new(move |store: &mut Store<CtxBox>| Func::wrap(store, f)));
    }

    /// Defines the host function `module.name` of type `ty` as `f`, which takes and
    /// returns untyped values, for each import of that name.
    pub(crate) fn func_new<F>(&mut self, module: &str, name: &str, ty: &FuncType, f: F)
    where
        F: Fn(Caller<'_, CtxBox>, &[Val], &mut [Val]) -> Result<(), wasmi::Error> + Copy + Send + Sync + 'static,
    {
        self.define(module, name, || {
            let ty = ty.clone();
            Box::new(move |store: &mut Store<CtxBox>| Func::new(store, ty.clone(), f))
        });
    }

    fn define(&mut self, module: &str, name: &str, make: impl Fn() -> MakeFunc) {
        for import in self.imports.iter_mut().filter(|i| i.module == module && i.name == name) {
            import.maker = Some(make());
        }
    }

    /// The module's imports, once all are defined; an import that nothing defined is
    /// [`Error::Link`].
    pub(crate) fn finish(self) -> Result<ModuleImports, Error> {
        let mut makers = Vec::with_capacity(self.imports.len());
        for import in self.imports {
            let Some(maker) = import.maker else {
                return Err(Error::Link {
                    module: import.module.into(),
                    name: import.name.into(),
                    reason: "the host provides no such import".into(),
                });
            };
            makers.push(maker);
        }
        Ok(ModuleImports { makers })
    }
}
