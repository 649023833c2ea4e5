using BenchmarkDotNet.Attributes;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Bench;

/// <summary>The fused elementwise kernels on a decoder-output-sized block (1000 x 784), each against its naive twin.</summary>
[MemoryDiagnoser]
public class ElementwiseBench
{
    private const int Rows = 1000, Cols = 784;
    private float[] _l = [], _x = [], _y = [], _d = [], _dy = [], _bias = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _l = Enumerable.Range(0, Rows * Cols).Select(_ => (float)(8 * rng.NextDouble() - 4)).ToArray();
        _x = Enumerable.Range(0, Rows * Cols).Select(_ => rng.NextFloat() < 0.3f ? 1f : 0f).ToArray();
        _y = new float[Rows * Cols];
        _d = new float[Rows * Cols];
        _dy = Enumerable.Range(0, Rows).Select(_ => rng.NextFloat()).ToArray();
        _bias = Enumerable.Range(0, Cols).Select(_ => rng.NextFloat()).ToArray();
    }

    [Benchmark(Baseline = true)]
    public void BernoulliLogLik_Naive() => BernoulliNaive.LogLikRows(_l, _x, _dy.AsSpan(), Cols);

    [Benchmark]
    public void BernoulliLogLik_Fused() => Bernoulli.LogLikRows(_l, _x, _dy.AsSpan(), Cols);

    [Benchmark]
    public void BernoulliBackward_Naive() => BernoulliNaive.Backward(_l, _x, _dy, _d, Cols);

    [Benchmark]
    public void BernoulliBackward_Fused() => Bernoulli.Backward(_l, _x, _dy, _d, Cols);

    [Benchmark]
    public void BiasTanh_Naive()
    {
        _l.AsSpan().CopyTo(_y);
        ActivationsNaive.BiasTanh<float>(_y, _bias);
    }

    [Benchmark]
    public void BiasTanh_Fast()
    {
        _l.AsSpan().CopyTo(_y);
        Activations.BiasTanh<float>(_y, _bias);
    }

    [Benchmark]
    public void TanhGrad_Naive() => ActivationsNaive.TanhGrad<float>(_l, _x, _d);

    [Benchmark]
    public void TanhGrad_Fast() => Elementwise.Map<TanhGradOperator<float>, float>(_l, _x, _d, accumulate: true);
}
