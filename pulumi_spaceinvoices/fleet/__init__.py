"""`spaceinvoices-fleet`: many organizations across the stacks of one project (docs/fleets.md).

organizations.py loads and checks the list, layout.py places organizations in shard stacks (jump
consistent hashing) and plans moves, scope.py decides which stacks hold their input already, plan.py
decides a run (a pure function: layout, moves, each stack's input, the phases and why), runner.py
runs the stacks through the Automation API, K at a time, program.py is the Pulumi program every
stack runs, cli.py the command line (read the states, plan, act, report). Nothing here is
imported by ``import pulumi_spaceinvoices``.
"""
