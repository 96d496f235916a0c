"""Reusable cdktf constructs for the webhook pipeline, and the stack that composes them.

Import the submodules directly (constructs_lib.queue, ...): this package file
stays free of cdktf imports so `import constructs_lib` is instant.
"""
