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
/// Runs an <see cref="IRangeBody"/> over [0, n) on the current <see cref="ComputeContext"/>, cut at multiples of <c>align</c>.
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
        var compute = ComputeContext.Current;
        int threads = compute.Threads;
        int parts = work < MinWork || threads <= 1 ? 1 : Math.Min(threads, n / align);
        if (parts <= 1)
        {
            body.Run(0, n);
            return;
        }
        var w = t_instance ??= new ParallelRange<TBody>();
        (w._body, w._n, w._align) = (body, n, align);
        try { compute.Run(w, parts); }
        finally { w._body = default; }
    }

    public void Run(int part, int parts)
    {
        int lo = Bound(part, parts), hi = Bound(part + 1, parts);
        if (lo < hi) _body.Run(lo, hi);
    }

    private int Bound(int part, int parts) => part == parts ? _n : (int)((long)part * (_n / _align) / parts) * _align;
}

/// <summary>The body of a <see cref="Concatenated{TBody}"/> job: items [start, end) of tensor <c>index</c>.</summary>
internal interface ISegmentBody
{
    void Run(int index, int start, int end);
}

/// <summary>
/// Several tensors laid end to end as one range, so that one parallel job (one hand-off) covers them all
/// instead of one job per tensor. <c>offsets</c> holds each tensor's start in the range and, last, the total.
/// </summary>
internal readonly struct Concatenated<TBody>(TBody body, int[] offsets) : IRangeBody where TBody : struct, ISegmentBody
{
    /// <summary>Runs <paramref name="body"/> over every item of every tensor, cut at multiples of <paramref name="align"/>.</summary>
    public static void For(TBody body, int[] offsets, int align, long workPerItem)
        => ParallelRange<Concatenated<TBody>>.For(new Concatenated<TBody>(body, offsets), offsets[^1], align, offsets[^1] * workPerItem);

    /// <summary>Start offsets of <paramref name="lengths"/> laid end to end, then their total.</summary>
    public static int[] Offsets(IEnumerable<int> lengths)
    {
        var list = new List<int> { 0 };
        foreach (int n in lengths) list.Add(checked(list[^1] + n));
        return [.. list];
    }

    public void Run(int start, int end)
    {
        if (start >= end) return;                       // no tensors, or only empty ones
        int p = 0;
        while (offsets[p + 1] <= start) p++;
        for (; start < end; p++)
        {
            int stop = Math.Min(end, offsets[p + 1]);
            if (stop > start) body.Run(p, start - offsets[p], stop - offsets[p]);
            start = stop;
        }
    }
}
