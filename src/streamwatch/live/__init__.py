"""The live path: the Faust worker, its Kafka admin, and the Redis risk view.

Thin by design (DESIGN.md): decode, bind log context, load state, call the core, store state,
send. ``streamwatch.live.app.create_app`` builds the worker's Faust app; everything else here is
one concept per module.
"""
