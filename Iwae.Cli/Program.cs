// The `iwae` command. Filled in by the model issue; for now it reports the kernel path in use.
Console.WriteLine($"iwae: kernels on {Iwae.Autodiff.Kernels.Simd.Best}");
