// Iwae.Bench: BenchmarkDotNet suites. `dotnet run -c Release --project Iwae.Bench -- --filter '*'` runs them all;
// `-- quick gemm [options]` prints one line per scenario from a plain Stopwatch loop (see GemmQuick).
using BenchmarkDotNet.Running;
using Iwae.Bench;

if (args.Length >= 2 && args[0] == "quick" && args[1] == "gemm")
    GemmQuick.Run(args[2..]);
else
    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
