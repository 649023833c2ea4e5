namespace Iwae.Autodiff.Kernels;

/// <summary>A compile-time flag: a kernel generic over it drops the branches it turns off.</summary>
internal interface IFlag { static abstract bool On { get; } }
internal readonly struct Yes : IFlag { public static bool On => true; }
internal readonly struct No : IFlag { public static bool On => false; }

/// <summary>The body of a range-parallel kernel: computes items [start, end) (elements or rows).</summary>
internal interface IRangeBody
{
    void Run(int start, int end);
}

/// <summary>
/// Runs an <see cref="IRangeBody"/> over [0, n) on <see cref="Workers"/>, cut at multiples of <c>align</c>.
/// Every item is computed by the same code whichever part it falls in (bodies never reduce across items,
/// and an element's vector or scalar path depends only on its index when <c>align</c> is a multiple of the
/// vector width), so results are bit-identical for any thread count. Small jobs run on the caller:
/// a hand-off costs about a microsecond.
/// </summary>
internal sealed class ParallelRange<TBody> : IParallelWork where TBody : struct, IRangeBody
{
    /// <summary>Below this much work (about one element of a cheap elementwise op each) the caller runs alone.</summary>
    public const long MinWork = 32 * 1024;

    [ThreadStatic] private static ParallelRange<TBody>? t_instance;

    private TBody _body;
    private int _n, _align;

    /// <summary>Runs <paramref name="body"/> over [0, n); <paramref name="work"/> is its cost in element-op units.</summary>
    public static void For(TBody body, int n, int align, long work)
    {
        int threads = Workers.Threads;
        int parts = work < MinWork || threads <= 1 ? 1 : Math.Min(threads, n / align);
        if (parts <= 1)
        {
            body.Run(0, n);
            return;
        }
        var w = t_instance ??= new ParallelRange<TBody>();
        (w._body, w._n, w._align) = (body, n, align);
        try { Workers.Run(w, parts); }
        finally { w._body = default; }
    }

    public void Run(int part, int parts)
    {
        int lo = Bound(part, parts), hi = Bound(part + 1, parts);
        if (lo < hi) _body.Run(lo, hi);
    }

    private int Bound(int part, int parts) => part == parts ? _n : (int)((long)part * (_n / _align) / parts) * _align;
}
