"""The intermediate representation: immutable shaped nodes, their shape rules, and checked constructors."""
from matcalc.ir.nodes import *  # noqa: F401,F403
from matcalc.ir.nodes import Node, Var, Num, Const, Op, op_of, postorder, fold, variables, size, dag_size  # noqa: F401
