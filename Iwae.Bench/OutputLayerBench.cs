using BenchmarkDotNet.Attributes;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Bench;

/// <summary>
/// The decoder's output layer with its Bernoulli likelihood on a k = 50 step's shapes (1000 x 200 -> 784, 20 targets):
/// the fused <see cref="Gemm.LinearBernoulli"/> against <see cref="Gemm.Linear{T}"/> followed by the Bernoulli kernel,
/// when training (the residual kept) and when evaluating (the fused form writes no logits), on 1 and 2 threads.
/// </summary>
[MemoryDiagnoser]
public class OutputLayerBench
{
    private const int Rows = 1000, Hidden = 200, Pixels = 784, Targets = 20;

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private float[] _h = [], _w = [], _bias = [], _x = [], _y = [], _c = [];
    private Execution _execution = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        float[] Uniform(int n, float scale) => Enumerable.Range(0, n).Select(_ => scale * (2 * rng.NextFloat() - 1)).ToArray();
        (_h, _w, _bias) = (Uniform(Rows * Hidden, 1), Uniform(Hidden * Pixels, 0.2f), Uniform(Pixels, 3));
        _x = Enumerable.Range(0, Targets * Pixels).Select(_ => rng.NextFloat() < 0.3f ? 1f : 0f).ToArray();
        (_y, _c) = (new float[Rows], new float[Rows * Pixels]);
        _execution = Scenarios.Execution(Threads);
    }

    [Benchmark(Baseline = true)]
    public void Train_LinearThenBernoulli()
    {
        Gemm.Linear<float>(_h, _w, _bias, _c, Rows, Pixels, Hidden, tanh: false, execution: _execution);
        Bernoulli.LogLikRowsWithResidual(_c, _x, _y, _c, Pixels, execution: _execution);
    }

    [Benchmark]
    public void Train_Fused()
    {
        Gemm.LinearBernoulli(_h, _w, _bias, _x, _y, _c, Rows, Pixels, Hidden, residual: true, execution: _execution);
    }

    [Benchmark]
    public void Eval_LinearThenBernoulli()
    {
        Gemm.Linear<float>(_h, _w, _bias, _c, Rows, Pixels, Hidden, tanh: false, execution: _execution);
        Bernoulli.LogLikRows(_c, _x, _y, Pixels, execution: _execution);
    }

    [Benchmark]
    public void Eval_Fused()
    {
        Gemm.LinearBernoulli(_h, _w, _bias, _x, _y, default, Rows, Pixels, Hidden, residual: false, execution: _execution);
    }
}
