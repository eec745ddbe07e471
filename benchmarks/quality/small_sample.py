#!/usr/bin/env python3
"""The feature Gaussian on few frames: for each class of a quality-bench dump, fit it on n = 54, 270 and 900 of the
class's training images (54 is what the daemon's end-to-end test learns from), calibrate the threshold at the 0.99
quantile of the 100 held-out images, and report test AUROC and the false-alarm rate on the class's 1000 normal test
images, for CLS and CLS + mean patch token, with PCA keeping 0.9 / 0.99 of the variance or Ledoit-Wolf shrinkage.
Usage: benchmarks/quality/small_sample.py DUMP_DIR   (reads .build/quality-test-tokens.f32 like offline.py)"""
import numpy as np, sys, gzip, os
dump = sys.argv[1]
def load(c,name,dt):
    p=f"{dump}/c{c}_{name}.{dt}"
    return np.fromfile(p, {"f64":np.float64,"f32":np.float32,"i64":np.int64}[dt]) if os.path.exists(p) else None
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as f: labels=np.frombuffer(f.read()[8:],np.uint8)
tok=np.memmap(".build/quality-test-tokens.f32",np.float32,"r").reshape(10000,197,-1)
test_cls=np.array(tok[:,0,:],np.float64)
test_pm=np.concatenate([tok[i:i+500,1:,:].mean(1) for i in range(0,10000,500)]).astype(np.float64)
from scipy.stats import rankdata
def auroc(s,a):
    r=rankdata(s); n1=a.sum(); n0=len(a)-n1
    return (r[a].sum()-n1*(n1+1)/2)/(n1*n0)
def pca(train,kept):
    mu=train.mean(0); lam,v=np.linalg.eigh(np.cov(train-mu,rowvar=False)); lam,v=lam[::-1],v[:,::-1]
    cum=np.cumsum(lam)/lam.sum(); k=max(1,int(np.argmax(cum>kept)))
    k=min(k, train.shape[0]-2)
    p=v[:,:k]/np.sqrt(lam[:k]); u=(train-mu)@p; mh=u.mean(0); s=np.cov(u-mh,rowvar=False,bias=True)+1e-6*np.eye(k)
    si=np.linalg.inv(s)
    return lambda x: np.einsum("ij,ij->i",((x-mu)@p-mh)@si,((x-mu)@p-mh)), k
def lw(train):
    mu=train.mean(0); x=train-mu; n,p=x.shape; s=x.T@x/n; m=np.trace(s)/p
    delta=(np.sum(s**2)-2*m*np.trace(s)+p*m*m)/p
    beta=min((np.sum((x**2).sum(1)**2)/n-np.sum(s**2))/(p*n),delta); rho=beta/delta
    ci=np.linalg.inv((1-rho)*s+rho*m*np.eye(p))
    return lambda y: np.einsum("ij,ij->i",(y-mu)@ci,(y-mu)), rho
rng=np.random.default_rng(0)
for c in range(10):
    tc=load(c,"train_cls","f32")
    if tc is None: continue
    held=load(c,"holdout_index","i64"); tc=tc.reshape(1000,-1).astype(np.float64); tp=load(c,"train_patchmean","f32").reshape(1000,-1).astype(np.float64)
    hs=set(held.tolist()); tr=[i for i in range(1000) if i not in hs]
    an=labels!=c; normal=~an
    for n in (54,270,900):
        idx=rng.choice(tr,n,replace=False)
        out=[]
        for name,feat,test in (("cls",tc,test_cls),("cls+pm",np.hstack([tc,tp]),np.hstack([test_cls,test_pm]))):
            for mode in ("pca.9","pca.99","lw"):
                if mode=="lw": f,info=lw(feat[idx]); info=f"rho={info:.2f}"
                else: f,k=pca(feat[idx],float(mode[3:])); info=f"k={k}"
                h=f(feat[held]); t=f(test); thr=np.quantile(h,0.99)
                out.append(f"{name} {mode}({info}) auc {100*auroc(t,an):.1f} far {100*(t[normal]>thr).mean():.1f}")
        print(f"class {c} n={n}: "+" | ".join(out)); sys.stdout.flush()
