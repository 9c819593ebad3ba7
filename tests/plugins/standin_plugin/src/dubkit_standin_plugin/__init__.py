"""Fast stand-in backends for dubkit's job tests: a transcriber that needs no model, with a load counter."""
