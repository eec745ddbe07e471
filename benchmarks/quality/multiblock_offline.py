#!/usr/bin/env python3
"""Offline (session 22): Ledoit-Wolf Gaussians on several teacher blocks beside the patch memory, fused by min-p
and Fisher's sum, from a quality-bench dump (run.sh --depth 0 --patch-memory 4096 --feature cls --covariance pca
--variance 0.99) and its token caches. Test labels are used only for the AUROC."""
import numpy as np, gzip, sys
from scipy.stats import rankdata
D=sys.argv[1] if len(sys.argv)>1 else '.build/quality-dump/depth_0_patch_memory_4096_feature_cls_covariance_pca_variance_0.99'
C=sys.argv[2] if len(sys.argv)>2 else '.build/quality-test-tokens.f32'
with gzip.open('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz') as f: labels=np.frombuffer(f.read()[8:],np.uint8)
def auroc(s,y):
    r=rankdata(s); p=y.sum(); n=(~y).sum(); return (r[y].sum()-p*(p+1)/2)/(p*n)
def lw_fit(train):
    mu=train.mean(0); x=train-mu; n,p=x.shape; s=x.T@x/n; m=np.trace(s)/p; x2=x**2; d2=np.sum(s**2)
    delta=(d2-2*m*np.trace(s)+p*m*m)/p; beta=min((np.sum(x2.T@x2)/n-d2)/(p*n),delta); rho=beta/delta
    cov=(1-rho)*s+rho*m*np.eye(p); return mu,np.linalg.inv(cov)
def lw_score(model,x):
    mu,P=model; d=x-mu; return np.einsum('ij,ij->i',d@P,d)
def logsf(h,x):
    h=np.sort(h); n=len(h); out=np.empty(len(x))
    top=h[int(0.9*n):]; u=top[0]; scale=max((top-u).mean(),1e-12)
    cnt=n-np.searchsorted(h,x,side='right'); out=np.log((cnt+1)/(n+1))
    k=len(top); above=x>u
    out[above]=np.log((k+1)/(n+1))-(x[above]-u)/scale
    return out
n_patch,depth=196,12
side=np.fromfile(C+'.side',np.float32).reshape(10000,-1)
width=(side.shape[1]-n_patch)//(2*depth)
test_blk=side[:,n_patch:].reshape(10000,depth,2,width).astype(np.float64)
tok=np.memmap(C,np.float32,'r').reshape(10000,197,-1)
test_final=np.hstack([np.array(tok[:,0,:],np.float64),np.concatenate([tok[i:i+500,1:,:].mean(1) for i in range(0,10000,500)])])
res={}
blocksets={'final':['final'],'6+9+final':[6,9,'final'],'9+final':[9,'final']}
for c in range(10):
    y=labels!=c
    ts=np.fromfile(f'{D}/c{c}_train_side.f32',np.float32).reshape(1000,-1)
    blk=ts[:,n_patch:].reshape(1000,depth,2,width).astype(np.float64)
    final=np.hstack([np.fromfile(f'{D}/c{c}_train_cls.f32',np.float32).reshape(1000,-1),np.fromfile(f'{D}/c{c}_train_patchmean.f32',np.float32).reshape(1000,-1)]).astype(np.float64)
    def feats(bs,tb,tf): return np.hstack([tf if b=='final' else tb[:,b].reshape(len(tb),-1) for b in bs])
    Lp=np.fromfile(f'{D}/c{c}_test_logtail_patch.f64'); Lg=np.fromfile(f'{D}/c{c}_test_logtail_gaussian.f64')
    row={'patch':auroc(-Lp,y),'G pca.99':auroc(-Lg,y),'fisher pca.99':auroc(-(Lp+Lg),y),'minp pca.99':auroc(-np.minimum(Lp,Lg),y)}
    for name,bs in blocksets.items():
        tr=feats(bs,blk,final); te=feats(bs,test_blk,test_final)
        model=lw_fit(tr); st=lw_score(model,te)
        oof=np.empty(1000)
        for f in range(5):
            idx=np.arange(1000); m=(idx*5//1000)==f
            oof[m]=lw_score(lw_fit(tr[~m]),tr[m])
        L=logsf(oof,st)
        row[f'G {name}']=auroc(st,y)
        row[f'fisher {name}+patch']=auroc(-(L+Lp),y)
        row[f'minp {name}+patch']=auroc(-np.minimum(L,Lp),y)
        row[f'fisher {name}+pca+patch']=auroc(-(L+Lp+Lg),y)
    res[c]=row
    print(c,' '.join(f'{k}={100*v:.2f}' for k,v in row.items()),flush=True)
keys=list(res[0])
print('MEAN',' | '.join(f'{k}={100*np.mean([res[c][k] for c in res]):.2f}' for k in keys))
