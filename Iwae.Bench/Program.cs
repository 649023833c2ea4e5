// Iwae.Bench: BenchmarkDotNet suites. `dotnet run -c Release --project Iwae.Bench -- --filter '*'` runs them all.
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
