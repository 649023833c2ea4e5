using BenchmarkDotNet.Attributes;
using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Bench;

/// <summary>GEMM on the model's shapes: the straightforward fast path against its naive twin.</summary>
[MemoryDiagnoser]
public class GemmBench
{
    [Params("1000x784x200", "1000x200x200", "20x200x784")]
    public string Shape { get; set; } = "1000x784x200";

    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        (_m, _k, _n) = (d[0], d[1], d[2]);
        var rng = new Rng(1);
        _a = Enumerable.Range(0, _m * _k).Select(_ => rng.NextFloat()).ToArray();
        _b = Enumerable.Range(0, _k * _n).Select(_ => rng.NextFloat()).ToArray();
        _c = new float[_m * _n];
    }

    [Benchmark(Baseline = true)]
    public void Naive() => GemmNaive.NN<float>(_a, _b, _c, _m, _n, _k, false);

    [Benchmark]
    public void NN() => Gemm.NN<float>(_a, _b, _c, _m, _n, _k, false);
}
