using BenchmarkDotNet.Attributes;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Bench;

/// <summary>
/// GEMM on the model's shapes (m x k x n), each form on 1 and 2 threads, against the naive triple loop.
/// Calls add into C, as the model's do. `quick gemm` (GemmQuick) prints the same in GFLOP/s in seconds.
/// </summary>
[MemoryDiagnoser]
public class GemmBench
{
    [Params("1000x784x200", "1000x200x200", "1000x200x784", "20x784x200", "20x200x784", "100x200x784")]
    public string Shape { get; set; } = "1000x784x200";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        (_m, _k, _n) = (d[0], d[1], d[2]);
        var rng = new Rng(1);
        _a = Enumerable.Range(0, _m * _k).Select(_ => 2 * rng.NextFloat() - 1).ToArray();
        _b = Enumerable.Range(0, _k * _n).Select(_ => 2 * rng.NextFloat() - 1).ToArray();
        _c = new float[_m * _n];
        _execution = Scenarios.Execution(Threads);
    }

    private Execution _execution = null!;

    [Benchmark(Baseline = true)]
    public void Naive() => GemmNaive.NN<float>(_a, _b, _c, _m, _n, _k, true);

    [Benchmark]
    public void NN() => Gemm.NN<float>(_a, _b, _c, _m, _n, _k, true, execution: _execution);

    [Benchmark]
    public void NT() => Gemm.NT<float>(_a, _b, _c, _m, _n, _k, true, execution: _execution);

    [Benchmark]
    public void TN() => Gemm.TN<float>(_a, _b, _c, _m, _n, _k, true, execution: _execution);
}
